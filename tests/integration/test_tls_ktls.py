"""kTLS: ssl.openssl.ssl-conf-cmd = ("Options" => "KTLS") hands the keys to the kernel where it
has the TLS ULP (files then go out with SSL_sendfile); elsewhere everything works as without
it. Whether kTLS is in use is said once at start-up."""

import os
import socket

from harness import Server, Skip, check, contains, curl, eq, lux_only, parse_one, sha256
from test_tls import https, need_tls, resolve, tls_conf

KTLS = 'ssl.openssl.ssl-conf-cmd = ("Options" => "KTLS")\n'


def kernel_has_tls_ulp():
    with socket.socket() as ls:
        ls.bind(("127.0.0.1", 0))
        ls.listen()
        with socket.create_connection(ls.getsockname()) as c:
            a, _ = ls.accept()
            with a:
                try:
                    a.setsockopt(socket.SOL_TCP, 31, b"tls")  # TCP_ULP
                    return True
                except OSError:
                    return False


def transfers(extra):
    data = os.urandom(6 * 1024 * 1024 + 123)
    with Server(tls_conf(extra=extra), files={"big.bin": data, "small.txt": "hi\n"}) as s:
        for proto in ("--tlsv1.2", "--tlsv1.3"):
            args = resolve(s) + [proto]
            if proto == "--tlsv1.2":
                args += ["--tls-max", "1.2"]
            got = curl(args + [https(s, "/big.bin")], timeout=60).stdout
            eq(sha256(got), sha256(data), f"sha256 of a 6 MiB file ({proto})")
            r = parse_one(curl(["-i", "-r", "3000000-3000099"] + args
                               + [https(s, "/big.bin")]).stdout)
            eq(r.body, data[3000000:3000100], f"a range ({proto})")
            eq(curl(args + [https(s, "/small.txt")]).stdout, b"hi\n", f"a small file ({proto})")
        return s.errorlog + s.stderr


def test_tls_ktls_option_serves_files():
    need_tls()
    transfers(KTLS)


@lux_only("lux's start-up line about kTLS")
def test_tls_ktls_fallback_without_kernel_support():
    need_tls()
    if kernel_has_tls_ulp():
        raise Skip("this kernel has the TLS ULP: the fall-back cannot be seen here")
    log = transfers(KTLS)
    contains(log, "kTLS requested, but the kernel has no TLS ULP", "the start-up line")
    eq(log.count("kTLS"), 1, "kTLS lines in the log")


@lux_only("lux's start-up line about kTLS")
def test_tls_ktls_in_use_where_the_kernel_has_it():
    need_tls()
    if not kernel_has_tls_ulp():
        raise Skip("this kernel has no TLS ULP (modprobe tls)")
    log = transfers(KTLS)
    contains(log, "kTLS in use", "the start-up line")


@lux_only("lux's start-up line about kTLS")
def test_tls_ktls_not_mentioned_unless_asked():
    need_tls()
    check("kTLS" not in transfers(""), "a kTLS line without the option")
