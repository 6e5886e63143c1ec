# The DIRECTIVES section of lux.conf(5), from the tables of docs/configuration.md: each "##"
# heading with a table becomes a subsection, each row a tagged paragraph. The man page is thus
# never out of step with the reference it is generated from.

# Markdown inline text to roff: backslashes escaped, `code` in bold, **x** and [x](link)
# dropped to x, the em dash named.
function roff(s,    out, parts, n, i, link) {
    gsub(/\\/, "\\e", s)
    gsub(/\*\*/, "", s)
    gsub(/—/, "\\(em", s)
    while (match(s, /\[[^]]*\]\([^)]*\)/)) {
        link = substr(s, RSTART, RLENGTH)
        sub(/\]\(.*/, "", link)
        s = substr(s, 1, RSTART - 1) substr(link, 2) substr(s, RSTART + RLENGTH)
    }
    n = split(s, parts, "`")
    out = parts[1]
    for (i = 2; i <= n; i++)
        out = out (i % 2 == 0 ? "\\fB" : "\\fR") parts[i]
    if (n % 2 == 0)
        out = out "\\fR"
    gsub(/^[ \t]+|[ \t]+$/, "", out)
    # A line may not start with a control character.
    if (out ~ /^[.']/)
        out = "\\&" out
    return out
}

/^## / {
    heading = substr($0, 4)
    printed = 0
    next
}

/^\| *directive *\|/ {
    ncols = split($0, cols, "|") - 2
    scope_col = ($0 ~ /\| *scope *\|/)
    in_table = 1
    next
}

in_table && /^\|[-| ]+\|$/ { next }

in_table && /^\|/ {
    if (!printed) {
        print ".SS \"" heading "\""
        printed = 1
    }
    n = split($0, f, "|")
    name = roff(f[2]); dflt = roff(f[3])
    scope = scope_col ? roff(f[4]) : ""
    # The notes are the rest of the row: a "|" inside them (`"|command"`) is no column break.
    first = scope_col ? 5 : 4
    notes = f[first]
    for (i = first + 1; i < n; i++)
        notes = notes "|" f[i]
    notes = roff(notes)
    print ".TP"
    print name
    line = "Default: " (dflt == "" ? "none" : dflt) "."
    if (scope != "")
        line = line " Scope: " scope "."
    print line
    if (notes != "")
        print notes
    next
}

{ in_table = 0 }
