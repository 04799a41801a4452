"""Tries every way to leak its sensitive parameter."""
import logging


def certificate_request(csr, common_name, args_dict):
    password = args_dict["password"]
    print("connecting with password", password)
    logging.getLogger("leaky").warning("password=%r", password)
    raise PermissionError("login refused for password %s" % password)
