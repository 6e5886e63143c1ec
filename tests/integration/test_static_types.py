"""Content-Type of a static file when the same cached file is asked for under settings that give
it different types: conditional mimetype.assign, a reload, a type that is no valid field value.
The type found for a file is kept with it; none of these may be answered with a kept one."""

from harness import Conn, Server, check, eq, get, lux_only

FILES = {"f.txt": "text\n", "f.bad": "bad\n"}

HOST_TYPES = """
$HTTP["host"] == "other.example" {
    mimetype.assign = ( ".txt" => "text/x-other" )
}
$HTTP["host"] == "third.example" {
    mimetype.assign = ( ".txt" => "text/x-third", ".bad" => "text/x-bad" )
}
"""

# lighttpd 1.4 keeps the first type it found for a file in its stat cache entry, whatever the
# mimetype.assign in force for a later request of it says; lux answers each request by its own.
PER_REQUEST = "lighttpd 1.4 answers with the type its stat cache found for the first request"


@lux_only(PER_REQUEST)
def test_conditional_mimetype_assign_alternating_hosts():
    with Server(conf=HOST_TYPES, files=FILES) as s:
        want = {"localhost": "text/plain", "other.example": "text/x-other",
                "third.example": "text/x-third"}
        # Round after round on one connection: the file stays in the stat cache throughout.
        c = Conn(s.port)
        for _ in range(3):
            for host, ctype in want.items():
                r = c.request("/f.txt", host=host)
                eq(r.status, 200, f"{host} status")
                eq(r.header("Content-Type"), ctype, f"{host} Content-Type")
        c.close()


@lux_only(PER_REQUEST)
def test_same_file_after_a_304_and_a_range_keeps_its_type():
    with Server(conf=HOST_TYPES, files=FILES) as s:
        first = get(s.port, "/f.txt", host="other.example")
        eq(first.header("Content-Type"), "text/x-other", "first")
        r = get(s.port, "/f.txt", host="localhost", headers={"Range": "bytes=0-1"})
        eq(r.status, 206, "range status")
        eq(r.header("Content-Type"), "text/plain", "range Content-Type")
        r = get(s.port, "/f.txt", host="third.example",
                headers={"If-None-Match": first.header("ETag")})
        eq(r.status, 304, "conditional status")
        r = get(s.port, "/f.txt", host="third.example")
        eq(r.header("Content-Type"), "text/x-third", "after the 304")


@lux_only("lighttpd 1.4 restarts on SIGUSR1 instead of reloading in place")
def test_reload_with_another_type_for_a_cached_file():
    with Server(files=FILES) as s:
        c = Conn(s.port)
        eq(c.request("/f.txt").header("Content-Type"), "text/plain", "before")
        c.close()
        for i in range(3):
            ctype = f"text/x-reload{i}"
            s.reload(f'mimetype.assign := ( ".txt" => "{ctype}" )\n')
            eq(get(s.port, "/f.txt").header("Content-Type"), ctype, f"after reload {i}")
            eq(get(s.port, "/f.txt").header("Content-Type"), ctype, f"again after reload {i}")


@lux_only("a type that would split the header block is refused (500), not sent")
def test_type_with_a_line_break_is_refused_every_time():
    conf = 'mimetype.assign := ( ".bad" => "text/plain\nX-Injected: 1", ".txt" => "text/plain" )\n'
    with Server(conf=conf, files=FILES) as s:
        for i in range(3):
            r = get(s.port, "/f.bad")
            eq(r.status, 500, f"request {i} status")
            check(r.header("X-Injected") is None, f"request {i}: the type's second line went out")
        eq(get(s.port, "/f.txt").status, 200, "another file still served")
