#!/usr/bin/env bash
# Discovery against real programs: nginx and Apache httpd run on loopback with certificates
# certloop did not issue (openssl made them), and `certloop discover host` must find each with
# its certificate and key paths and its port; keystores from keytool (JKS) and openssl
# (PKCS#12, PEM, DER) and TLS endpoints served by `openssl s_server` in the cargo tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

ensure_apt openssl openssl
ensure_apt keytool openjdk-17-jre-headless
ensure_apt runuser util-linux
ensure_apt nginx nginx
ensure_apt apache2 apache2
# Debian 12's tomcat10 package: its catalina.sh runs a CATALINA_BASE of our own.
ensure_apt /usr/share/tomcat10/bin/catalina.sh tomcat10
export CARGO_INCREMENTAL=0

step "cargo test --test discovery (keytool JKS, openssl PKCS#12/PEM/DER, s_server endpoints)"
CERTLOOP_TEST_KEYTOOL=1 cargo test --workspace --test discovery --locked
step "cargo test --test discover_cli (certloop discover files/network; unreadable files)"
cargo test --workspace --test discover_cli --locked

work=$(mktemp -d "${TMPDIR:-/tmp}/certloop-discover.XXXXXX")
cleanup() {
  if [ -f "$work/nginx/nginx.pid" ]; then kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true; fi
  if [ -f "$work/apache/httpd.pid" ]; then kill "$(cat "$work/apache/httpd.pid")" 2>/dev/null || true; fi
  if [ -f "$work/tomcat/tomcat.pid" ]; then kill "$(cat "$work/tomcat/tomcat.pid")" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# self_signed DIR CN: DIR/cert.pem and DIR/key.pem.
self_signed() {
  mkdir -p "$1"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=$2" \
    -addext "subjectAltName=DNS:$2" -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}

step "nginx on loopback (server block in an included file)"
nginx_port=$(free_port)
mkdir -p "$work/nginx/logs" "$work/nginx/tmp" "$work/nginx/conf.d"
self_signed "$work/nginx/tls" nginx.example.test
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $work/nginx/tmp/body;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  include $work/nginx/conf.d/*.conf;
}
CONF
cat >"$work/nginx/conf.d/site.conf" <<CONF
server {
  listen 127.0.0.1:$nginx_port ssl;
  server_name nginx.example.test;
  ssl_certificate $work/nginx/tls/cert.pem;
  ssl_certificate_key $work/nginx/tls/key.pem;
  location / { return 200 "ok\n"; }
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/logs/error.log"
wait_for_port "$nginx_port" 20

step "Apache httpd on loopback (VirtualHost in an IncludeOptional file)"
apache_port=$(free_port)
mkdir -p "$work/apache/sites" "$work/apache/logs"
self_signed "$work/apache/tls" apache.example.test
modules=/usr/lib/apache2/modules
run_as=""
if [ "$(id -u)" -eq 0 ]; then run_as="User www-data
Group www-data"; fi
cat >"$work/apache/httpd.conf" <<CONF
ServerRoot "$work/apache"
PidFile $work/apache/httpd.pid
ErrorLog $work/apache/logs/error.log
DefaultRuntimeDir $work/apache
Mutex file:$work/apache
LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule socache_shmcb_module $modules/mod_socache_shmcb.so
LoadModule ssl_module $modules/mod_ssl.so
$run_as
ServerName localhost
Listen 127.0.0.1:$apache_port
IncludeOptional sites/*.conf
CONF
cat >"$work/apache/sites/tls.conf" <<CONF
<VirtualHost 127.0.0.1:$apache_port>
  ServerName apache.example.test
  SSLEngine on
  SSLCertificateFile $work/apache/tls/cert.pem
  SSLCertificateKeyFile $work/apache/tls/key.pem
</VirtualHost>
CONF
apache2 -f "$work/apache/httpd.conf" -k start
wait_for_port "$apache_port" 20

step "Tomcat on loopback (an SSL Connector with a PKCS#12 keystore keytool made)"
tomcat_port=$(free_port)
mkdir -p "$work/tomcat/conf" "$work/tomcat/logs" "$work/tomcat/work" "$work/tomcat/temp" \
  "$work/tomcat/webapps"
cp /etc/tomcat10/web.xml /etc/tomcat10/catalina.properties "$work/tomcat/conf/"
keytool -genkeypair -keystore "$work/tomcat/conf/keystore.p12" -storetype PKCS12 \
  -storepass changeit -alias tomcat -keyalg EC -groupname secp256r1 \
  -dname CN=tomcat.example.test -validity 30 2>/dev/null
cat >"$work/tomcat/conf/server.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="$tomcat_port" address="127.0.0.1" SSLEnabled="true" maxThreads="10"
               protocol="org.apache.coyote.http11.Http11NioProtocol">
      <SSLHostConfig>
        <Certificate certificateKeystoreFile="\${catalina.base}/conf/keystore.p12"
                     certificateKeystoreType="PKCS12" certificateKeystorePassword="changeit"
                     certificateKeyAlias="tomcat"/>
      </SSLHostConfig>
    </Connector>
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false"/>
    </Engine>
  </Service>
</Server>
XML
CATALINA_BASE="$work/tomcat" CATALINA_HOME=/usr/share/tomcat10 \
  CATALINA_PID="$work/tomcat/tomcat.pid" /usr/share/tomcat10/bin/catalina.sh start >/dev/null
wait_for_port "$tomcat_port" 60

step "certloop discover host finds all three, with their files and ports"
# --workspace, as scripts/test built it: `-p certloop-cli` unifies features differently and
# rebuilds half the tree (minutes on two cores).
cargo build -q --workspace --bins --locked
export CERTLOOP_HOME="$work/home"
target/debug/certloop discover host --json >"$work/host.json"
python3 - "$work" "$nginx_port" "$apache_port" "$tomcat_port" <<'PY'
import json, sys
work, nginx_port, apache_port, tomcat_port = sys.argv[1], *map(int, sys.argv[2:5])
outcome = json.load(open(f"{work}/host.json"))
items = outcome["items"]
def find(kind, cert):
    for item in items:
        loc = item["location"]
        if loc["kind"] == "server" and loc["serverType"] == kind and loc["certificatePath"] == cert:
            return item
    sys.exit(f"no {kind} finding for {cert}: {json.dumps(outcome, indent=1)}")
nginx = find("nginx", f"{work}/nginx/tls/cert.pem")
assert nginx["location"]["keyPath"] == f"{work}/nginx/tls/key.pem", nginx
assert nginx["location"]["configPath"] == f"{work}/nginx/conf.d/site.conf", nginx
assert nginx_port in nginx["location"]["ports"], nginx
assert nginx["commonName"] == "nginx.example.test" and nginx["state"] == "discovered", nginx
assert nginx["suggestedTarget"]["type"] == "nginx", nginx
assert nginx["suggestedTarget"]["endpoint"] == f"127.0.0.1:{nginx_port}", nginx
apache = find("apache", f"{work}/apache/tls/cert.pem")
assert apache["location"]["keyPath"] == f"{work}/apache/tls/key.pem", apache
assert apache["location"]["configPath"] == f"{work}/apache/sites/tls.conf", apache
assert apache_port in apache["location"]["ports"], apache
assert apache["commonName"] == "apache.example.test", apache
assert apache["suggestedTarget"]["certPath"] == f"{work}/apache/tls/cert.pem", apache
tomcat = find("tomcat", f"{work}/tomcat/conf/keystore.p12")
assert tomcat_port in tomcat["location"]["ports"], tomcat
assert tomcat["commonName"] == "tomcat.example.test", tomcat
target = tomcat["suggestedTarget"]
assert target["keystorePath"] == f"{work}/tomcat/conf/keystore.p12", tomcat
assert target["keystoreType"] == "pkcs12" and target["alias"] == "tomcat", tomcat
assert "changeit" not in json.dumps(outcome), "the keystore password never leaves the scan"
print(f"discovered nginx on {nginx_port}, apache on {apache_port}, tomcat on {tomcat_port}")
PY

step "the discovered endpoints serve what the files hold; a replaced file is drift"
target/debug/certloop discover network "127.0.0.1:$nginx_port" "127.0.0.1:$apache_port" --json \
  >"$work/net.json"
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
host = json.load(open(f"{work}/host.json"))["items"]
net = json.load(open(f"{work}/net.json"))
assert len(net["items"]) == 2 and not net["problems"], net
assert {i["fingerprintSha256"] for i in net["items"]} <= {i["fingerprintSha256"] for i in host}, net
assert all(not i["newCertificate"] for i in net["items"]), "served = configured: already known"
PY
self_signed "$work/swap" nginx.example.test
cp "$work/swap/cert.pem" "$work/nginx/tls/cert.pem"
target/debug/certloop discover drift --json >"$work/drift.json"
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
report = json.load(open(f"{work}/drift.json"))
drifts = report["drifts"]
paths = [d["location"].get("certificatePath") for d in drifts if d["kind"] == "changed"]
assert f"{work}/nginx/tls/cert.pem" in paths, report
print(f"{report['checked']} places checked, {len(drifts)} drifted")
PY
echo "discover stage: all checks passed"
