"""mod_evasive's settings per $SERVER["socket"]: a connection is admitted under the limit of
the listener it reached (the connections of its address are counted across listeners)."""

import harness
from harness import Server, eq, lux_only
from test_peer_limits import FILES, close_all, hold_admitted, open_many, statuses


@lux_only("lux counts every open connection; lighttpd's mod_evasive only those past their request")
def test_limit_per_socket():
    conf = ('server.modules += ("mod_evasive")\n'
            '$SERVER["socket"] == "127.0.0.1:@PORT2@" {\n'
            '    evasive.max-conns-per-ip = 1\n    evasive.silent = "enable"\n}\n')
    with Server(conf, files=FILES) as s:
        harness.poll(lambda: harness.port_accepts(s.port2, "127.0.0.1"), what="second listener")
        held = hold_admitted(s.port2, 1)
        more = open_many(s.port2, 1)
        eq(statuses(more), [403], "past the limit of the limited socket")
        free = open_many(s.port, 3)
        eq(statuses(free), [200, 200, 200], "the other socket has none")
        close_all(held + more + free)
        harness.check("too many connections" not in s.errorlog, "evasive.silent per socket")
