# The DIRECTIVES section of lux.conf(5), from the directive tables of docs/configuration.md and
# docs/modules.md: each "##" heading with a table becomes a subsection, each row a tagged
# paragraph. The man page is thus never out of step with the reference it is generated from.

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

# A directive table's head names its columns: "directive", then "default" and "scope" where the
# table has them (modules.md's have neither); the columns after those are the notes.
tolower($0) ~ /^\| *directive *\|/ {
    ncols = split(tolower($0), cols, "|")
    default_col = 0; scope_col = 0; notes_col = 3
    for (i = 3; i < ncols; i++) {
        gsub(/^ +| +$/, "", cols[i])
        if (cols[i] == "default") { default_col = i; notes_col = i + 1 }
        if (cols[i] == "scope") { scope_col = i; notes_col = i + 1 }
    }
    in_table = 1
    next
}

in_table && /^\|[-| ]+\|$/ { next }

# A row whose directives an earlier table listed already (modules.md repeats some of
# configuration.md's) is left out: each directive once, its first description.
function seen_before(cell,    parts, n, i, all_seen) {
    n = split(cell, parts, "`")
    all_seen = 1
    for (i = 2; i <= n; i += 2)
        if (!(parts[i] in seen)) {
            all_seen = 0
            seen[parts[i]] = 1
        }
    return all_seen
}

in_table && /^\|/ {
    split($0, f, "|")
    if (seen_before(f[2]))
        next
    if (!printed) {
        print ".SS \"" heading "\""
        printed = 1
    }
    n = split($0, f, "|")
    name = roff(f[2])
    dflt = default_col ? roff(f[default_col]) : ""
    scope = scope_col ? roff(f[scope_col]) : ""
    # The notes are the rest of the row: a "|" inside them (`"|command"`) is no column break.
    notes = f[notes_col]
    for (i = notes_col + 1; i < n; i++)
        notes = notes "|" f[i]
    notes = roff(notes)
    print ".TP"
    print name
    line = default_col ? "Default: " (dflt == "" ? "none" : dflt) "." : ""
    if (scope != "")
        line = line (line == "" ? "" : " ") "Scope: " scope "."
    if (line != "")
        print line
    if (notes != "")
        print notes
    next
}

{ in_table = 0 }
