// Package keepalived reads a keepalived.conf and writes the raftvip
// configuration that replaces it, for `raftvip import-keepalived`.
//
// # Reading
//
// [ParseFile] and [Parse] follow keepalived 2.x's own parser (lib/parser.c),
// so a file keepalived accepts is read the same way:
//
//   - A comment starts at '#' or '!' anywhere outside double quotes and runs
//     to the end of the line; "\#" and "\!" are a literal '#' and '!'.
//   - Each line is split at every '{' and '}' outside quotes, so a block may
//     open on the keyword's line or the next one, and "}" may share a line
//     with content ("auth_pass 1111 }").
//   - Words are separated by whitespace; a word starting with '"' runs to the
//     next '"' and loses the quotes.
//   - "include PATTERN" (and its variants includea, includer, ...) is
//     textual: the pattern is relative to the including file's directory,
//     may use glob wildcards and csh-style braces ({a,b}), matching files are
//     read in sorted order and directories are skipped. Nesting is limited to
//     [MaxIncludeDepth] and a cycle is an error. A pattern without wildcards
//     that matches nothing is an error (keepalived only logs it); a wildcard
//     that matches nothing is a warning.
//   - Parameter definitions ($NAME=...), conditional lines (@ID ...) and
//     ~SEQ are refused with a message: expand them first.
//
// Every statement becomes a [Node] with its file:line:col, unknown keywords
// included, so they can be reported. Unbalanced braces, unterminated quotes
// and missing or cyclic includes are [Errors] with positions.
//
// [Decode] (or [Load], which also parses) checks the values of the VRRP part
// (global_defs, vrrp_script, vrrp_instance): numbers, timers in decimal
// seconds, addresses, MASTER/BACKUP, PASS/AH; a bad or missing value is an
// error at its position.
//
// # Writing
//
// [Convert] writes the raftvip HCL configuration for one host from one
// vrrp_instance, with the [Options] keepalived.conf does not know (node id,
// bind address, the other Raft peers, the MySQL DSN). Every keepalived
// statement appears in a "# keepalived: SETTING (file:line) -> ..." comment
// saying what raftvip does with it or why raftvip does not need it. The
// output always passes config.Parse: Convert checks it, tolerating only a
// mysql.dsn_file that does not exist yet. A tracked script that checks
// replication (its command line or a script file it names) becomes
// failover.max_lag, with the script's lag threshold when one is clear.
// docs/import-keepalived.md lists the mapping.
package keepalived
