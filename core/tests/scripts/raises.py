class CaUnavailable(Exception):
    retryable = True


def certificate_request(csr, common_name, args_dict):
    if args_dict.get("mode") == "retryable":
        raise CaUnavailable("the CA is in maintenance until 02:00")
    raise ValueError("the CA refused %s: policy 17" % common_name)
