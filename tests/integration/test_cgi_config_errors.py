"""mod_cgi's start-up errors: each names the directive once, with its file and line."""

import harness
from harness import check, lux_only


def config_error(conf):
    """The first line of what `-tt` says about conf (the server must refuse it)."""
    with harness.TempDir() as tmp:
        text = harness.BASE_CONF + 'server.modules = ("mod_cgi")\n' + conf
        text = text.replace("@TMP@", tmp.path).replace("@DOCROOT@", tmp.path)
        text = text.replace("@PORT@", "80")
        path = tmp.write("lux.conf", text)
        cp = harness.run_bin(["-tt", "-f", path])
        check(cp.returncode != 0, f"the config was accepted: {conf!r}")
        return (cp.stderr.strip().splitlines() or [""])[0]


def check_named_once(line, directive):
    check(line.count(directive) == 1, f"{directive} is not named exactly once: {line!r}")


@lux_only("lighttpd ignores unknown cgi.limits keys and words its errors differently")
def test_cgi_limits_unknown_key_names_directive_once():
    check_named_once(config_error('cgi.limits = ( "bogus" => 1 )\n'), "cgi.limits")


@lux_only("lighttpd words its errors differently")
def test_cgi_limits_bad_value_names_directive_once():
    check_named_once(config_error('cgi.limits = ( "read-timeout" => "soon" )\n'), "cgi.limits")


@lux_only("lighttpd words its errors differently")
def test_cgi_limits_not_a_list_names_directive_once():
    check_named_once(config_error('cgi.limits = "30"\n'), "cgi.limits")


@lux_only("lighttpd words its errors differently")
def test_cgi_assign_names_directive_once():
    check_named_once(config_error('cgi.assign = ".x"\n'), "cgi.assign")
