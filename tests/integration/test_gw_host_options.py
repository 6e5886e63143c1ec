"""The options of a gateway's host entries (check-local, docroot) belong to each entry, as in
lighttpd: a request follows those of the backend it goes to, not the key's first one."""

from harness import eq
from test_mod_fastcgi import Setup, backend_conf, env_of, get


def two_hosts(key, opts_a, opts_b):
    """fastcgi.server with apps a and b under key, each with its own options, in turns."""
    def conf(apps):
        a, b = apps
        return (f'fastcgi.server = ( {key} => ( "a" => {backend_conf(a.addr, opts_a)}, '
                f'"b" => {backend_conf(b.addr, opts_b)} ) )\n'
                'fastcgi.balance = "round-robin"\n')
    return conf


def test_docroot_per_host():
    """The first host is down: the second answers, with its own docroot."""
    conf = two_hosts('".php"', ', "docroot" => "/srv/a"', ', "docroot" => "/srv/b"')
    with Setup(["a", "b"], conf) as st:
        st.apps[0].stop()
        for _ in range(3):
            r = get(st.server, "/env.php")
            eq(r.header("X-Backend"), "b", "the live backend answers")
            env = env_of(r.body)
            eq(env.get("DOCUMENT_ROOT"), "/srv/b", "b's own docroot")
            eq(env.get("SCRIPT_FILENAME"), "/srv/b/env.php", "b's script")


def test_check_local_per_host():
    """A script that is not on disk: the backend without check-local answers it, the one with
    it leaves the request to the static handler (404), and the turn passes all the same."""
    conf = two_hosts('".php"', ', "check-local" => "disable"', "")
    with Setup(["a", "b"], conf) as st:
        statuses = [get(st.server, "/nowhere/env.php").status for _ in range(6)]
        eq(statuses, [200, 404] * 3, "a answers, b leaves it to the static handler, in turns")
