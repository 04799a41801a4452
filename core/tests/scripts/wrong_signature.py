def certificate_request(csr):
    return csr
