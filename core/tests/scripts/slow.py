"""Never answers: a busy loop (interruptible in process) or a long sleep."""
import time


def certificate_request(csr, common_name, args_dict):
    if args_dict.get("mode") == "sleep":
        time.sleep(600)
    while True:
        pass
