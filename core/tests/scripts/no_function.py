def request_certificate(csr, common_name, args_dict):
    return csr
