package render

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"

	"github.com/hagen-ha/hagen/internal/lazyregexp"
)

// Escaping belongs to the output format: one function per format, and
// every spec string that reaches a file of that format goes through it.
// Where a format cannot carry a value safely, the function returns an
// error and the render fails (the schema refuses such values first; this
// is the second line).
//
//   - compose YAML: through the YAML encoder, and composeValue ($ → $$)
//     on every value compose interpolates;
//   - systemd units: sdWord/sdCommand for command lines, sdEnv for
//     Environment=, sdPath for path directives;
//   - shell: shWord, in templates ({{sh .X}}) and in the RUNBOOK's
//     commands;
//   - HAProxy: haproxyWord ({{haproxy .X}});
//   - keepalived: keepalivedWord ({{keepalived .X}});
//   - Markdown inline code: mdCode ({{code .X}});
//   - postgresql.conf string values: pgConfString;
//   - JSON: encoding/json only;
//   - file headers: header (the spec's file name, which may hold any
//     character).

// plainWord is what every format above takes unquoted.
var plainWord = lazyregexp.New(`^[A-Za-z0-9_@+=:,./-]+$`)

// composeValue escapes a value of the compose file against compose's
// interpolation: "$$" is a literal "$". Every value hagen takes from the
// spec goes through it; only hagen's own ${VAR:?…} references of secrets
// are written without it.
func composeValue(s string) string { return strings.ReplaceAll(s, "$", "$$") }

func composeValues(list []string) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = composeValue(s)
	}
	return out
}

// shWord quotes s as one word for a POSIX shell: plain words as they are,
// anything else in single quotes (inside which every character is
// literal, a newline included); a single quote ends the quoting, is
// escaped with a backslash and the quoting resumes.
func shWord(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Unit files (systemd.syntax(7), "Quoting"; systemd.service(5), "Command
// lines"; systemd.unit(5), "Specifiers"). A value is written as one
// double-quoted word with C escapes, so that no character of it can end
// the directive's line: systemd expands specifiers (%% is %), then unquotes
// and unescapes the word (\\ \" \n \r \t \xNN), and in command lines then
// substitutes variables ($$ is $).

// sdQuoteReplacer escapes a word for a command line; sdEnvReplacer for an
// Environment= assignment, where $ has no meaning. Built once: replacers
// are expensive to build and safe for concurrent use.
var (
	sdQuoteReplacer = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `%`, `%%`, `$`, `$$`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	sdEnvReplacer   = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `%`, `%%`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
)

// sdEscapeControl writes the control characters a replacer leaves as
// \xNN escapes.
func sdEscapeControl(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			fmt.Fprintf(&b, `\x%02x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isControl reports the characters that must not reach a line-based
// format raw: C0 controls and DEL (tab, newline and CR included).
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// sdWord quotes one word of a command line. Neither a specifier nor a
// variable in it is expanded.
func sdWord(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return `"` + sdEscapeControl(sdQuoteReplacer.Replace(s)) + `"`
}

// sdCommand quotes a command line.
func sdCommand(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(sdWord(a))
	}
	return b.String()
}

// sdMainPID is the one variable hagen's units let systemd expand.
const sdMainPID = "$MAINPID"

// sdEnv is one Environment= assignment.
func sdEnv(name, value string) string {
	return `"` + sdEscapeControl(sdEnvReplacer.Replace(name+"="+value)) + `"`
}

// sdText is free text for a directive that takes it whole
// (Description=): specifiers are expanded in it, escapes are not, so a
// control character is written as a Go escape and % as %%.
func sdText(s string) string { return strings.ReplaceAll(commentText(s), "%", "%%") }

// sdPathChars are what a path directive (WorkingDirectory=,
// EnvironmentFile=, BindReadOnlyPaths=) takes: those directives split on
// white space and treat quotes and colons their own ways.
var sdPathChars = lazyregexp.New(`^[A-Za-z0-9_@+=,./%-]+$`)

// sdPath escapes a path for a path directive (specifiers are expanded in
// them, variables not).
func sdPath(p string) (string, error) {
	if !sdPathChars.MatchString(p) {
		return "", fmt.Errorf("path %q cannot be written into a systemd unit: use letters, digits and _@+=,./%%-", p)
	}
	return strings.ReplaceAll(p, "%", "%%"), nil
}

// haproxyWord quotes one argument of haproxy.cfg: plain words as they are,
// anything else in strong (single) quotes, inside which HAProxy interprets
// nothing; a single quote ends the quoting, is escaped with a backslash and
// the quoting resumes (HAProxy concatenates quoted and
// escaped parts). A line break cannot be written.
func haproxyWord(s string) (string, error) {
	if s == "" || strings.ContainsFunc(s, isControl) {
		return "", fmt.Errorf("%q cannot be written into haproxy.cfg", s)
	}
	if plainWord.MatchString(s) {
		return s, nil
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'", nil
}

// keepalivedWord checks one word of keepalived.conf: keepalived has no
// quoting that carries arbitrary text (# and ! start a comment anywhere),
// so anything but plain characters is refused.
func keepalivedWord(s string) (string, error) {
	if !plainWord.MatchString(s) || strings.ContainsAny(s, "=,") {
		return "", fmt.Errorf("%q cannot be written into keepalived.conf", s)
	}
	return s, nil
}

// pgConfString is s as a string value of postgresql.conf: in single
// quotes, a quote doubled and a backslash doubled (the server's parser
// reads \n, \t, octal and the like in quoted values). A control
// character cannot be written (the schema refuses it first).
func pgConfString(s string) (string, error) {
	if strings.ContainsFunc(s, isControl) {
		return "", fmt.Errorf("%q cannot be written into postgresql.conf", s)
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'", nil
}

// mdCode is s as Markdown inline code: fenced by more backticks than it
// holds in a row, padded when it starts or ends with one. Line breaks
// become spaces, as Markdown shows them anyway.
func mdCode(s string) string {
	s = strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s)
	run, longest := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// headerName is the spec's file name as a header prints it: as it is when
// it is made of plain characters, else as a double-quoted Go string (any
// control character, quote or backslash escaped), so that it can never end
// the comment or its line.
func headerName(spec string) string {
	if plainWord.MatchString(spec) {
		return spec
	}
	return strconv.QuoteToGraphic(spec)
}

// header is the first comment of every rendered file whose format has
// comments: it names the spec and says where to make changes. comment is
// the format's line-comment marker.
func header(spec, comment string) string {
	return comment + " Generated by hagen from " + headerName(spec) + ": edit the spec, not this file.\n"
}

// htmlHeader is the header as an HTML comment (Markdown): > is escaped
// too, so that the name cannot close the comment.
func htmlHeader(spec string) string {
	name := headerName(spec)
	if name != spec {
		name = strings.ReplaceAll(name, ">", `\x3e`)
	}
	return "<!-- Generated by hagen from " + name + ": edit the spec, not this file. -->\n"
}

// commentText makes text safe for a line comment of any format: control
// characters are written as Go escapes.
func commentText(s string) string {
	if !strings.ContainsFunc(s, isControl) && !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsGraphic(r) && r != ' ' }) {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}

// specName is the spec's file name as written into headers and
// inventory.json: the base name only, so that the output does not depend on
// the working directory.
func specName(source string) string {
	if source == "" {
		return "spec.cue"
	}
	return filepath.Base(source)
}
