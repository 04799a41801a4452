def certificate_request(csr, common_name, args_dict):
    return 42
