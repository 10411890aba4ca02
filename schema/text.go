package schema

import (
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/distribution/reference"

	"github.com/hagen-ha/hagen/internal/lazyregexp"
)

// The rules for the strings of a spec. Render escapes only the free-form
// fields (services.<n>.environment values and services.<n>.command
// elements) for each output format; every other string field is held to
// an explicit character set here or by a pattern in topology.cue, so that
// it can be written into any file unquoted. Control characters are refused
// in every string, map keys included.

// MaxFreeTextBytes is the longest value a free-form field may hold.
const MaxFreeTextBytes = 4096

// controlChar reports the first control character of s (C0, DEL, C1, and
// the Unicode line and paragraph separators), or -1.
func controlChar(s string) (r rune, offset int) {
	for i, r := range s {
		if r <= 0x1f || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029 {
			return r, i
		}
	}
	return -1, -1
}

// runeName names a control character for a person.
func runeName(r rune) string {
	names := map[rune]string{
		0x00: "NUL", 0x07: "bell", 0x08: "backspace", 0x09: "tab", 0x0a: "line feed",
		0x0b: "vertical tab", 0x0c: "form feed", 0x0d: "carriage return", 0x1b: "escape",
		0x7f: "delete", 0x85: "next line", 0x2028: "line separator", 0x2029: "paragraph separator",
	}
	if n, ok := names[r]; ok {
		return fmt.Sprintf("U+%04X (%s)", r, n)
	}
	return fmt.Sprintf("U+%04X", r)
}

// textProblem is what is wrong with s as a string of any field: invalid
// UTF-8 or a control character; "" when neither.
func textProblem(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8 text; write the value as plain UTF-8"
	}
	if r, i := controlChar(s); r >= 0 {
		return fmt.Sprintf("holds the control character %s at byte %d; no field may hold control characters (U+0000-U+001F, U+007F-U+009F, U+2028, U+2029): write the value on one line, without tabs", runeName(r), i)
	}
	return ""
}

// escapeText makes s safe to print on a terminal: every character that is
// not a printable one (control characters, and format characters such as
// bidirectional overrides) is written as a Go escape.
func escapeText(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r) || r == ' ':
			b.WriteRune(r)
		default:
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

// quote is s in double quotes, escaped for a terminal.
func quote(s string) string {
	q := strconv.QuoteToGraphic(s)
	return escapeText(q)
}

// Secret-looking variable names. A name is split into words at _; it looks
// secret when one of its words (or the pair API_KEY, PRIVATE_KEY) is a
// secret word, unless the next word qualifies it as a setting about the
// secret rather than the secret itself: PASSWORD_MIN_LENGTH,
// PASSWORD_POLICY, TOKEN_TTL, DB_PASSWORD_FILE (a path) are not secrets.
// The shell's PWD and OLDPWD (directories) are not either.
var (
	secretWords = map[string]bool{
		"PASSWORD": true, "PASSWORDS": true, "PASS": true, "PASSWD": true, "PWD": true,
		"SECRET": true, "SECRETS": true, "TOKEN": true, "TOKENS": true, "APIKEY": true,
		"CREDENTIAL": true, "CREDENTIALS": true, "PASSPHRASE": true,
	}
	secretPairs = map[[2]string]bool{{"API", "KEY"}: true, {"PRIVATE", "KEY"}: true, {"ACCESS", "KEY"}: true}
	// qualifierWords after a secret word make the name a setting about
	// the secret.
	qualifierWords = map[string]bool{
		"MIN": true, "MAX": true, "LENGTH": true, "LEN": true, "POLICY": true, "TTL": true,
		"TIMEOUT": true, "EXPIRY": true, "EXPIRES": true, "EXPIRE": true, "LIFETIME": true,
		"AGE": true, "FILE": true, "PATH": true, "DIR": true, "URL": true, "ENDPOINT": true,
		"HEADER": true, "TYPE": true, "ROTATION": true, "RESET": true, "COMPLEXITY": true,
		"RETRIES": true, "ATTEMPTS": true,
	}
	notSecretNames = map[string]bool{"PWD": true, "OLDPWD": true}
)

// secretWord is the word (or pair of words) that makes an environment
// variable name look like it holds a secret (see the rule above), or "".
func secretWord(name string) string {
	name = strings.ToUpper(name)
	if notSecretNames[name] {
		return ""
	}
	words := strings.Split(name, "_")
	qualified := func(next int) bool { return next < len(words) && qualifierWords[words[next]] }
	for i, w := range words {
		if secretWords[w] && !qualified(i+1) {
			return w
		}
		if i+1 < len(words) && secretPairs[[2]string{w, words[i+1]}] && !qualified(i+2) {
			return w + "_" + words[i+1]
		}
	}
	return ""
}

// Credentials in a URL, found in the raw text whether or not it parses:
// scheme://user:password@ anywhere in the value, or user:password@host at
// the start of the value or after a separator. mailto:name@host is an
// address, not a credential.
var (
	schemeCredentials     = lazyregexp.New(`[A-Za-z][A-Za-z0-9+.-]*://[^/?#@]*:[^/?#@]*@`)
	schemelessCredentials = lazyregexp.New(`(?:^|[\s=,;'"(<\[{])([^\s:/@'"=,;(<\[{]+):[^\s/@'"]*@[A-Za-z0-9\[]`)
)

// HasURLCredentials reports whether s holds user:password@ as in a URL.
func HasURLCredentials(s string) bool {
	if schemeCredentials.MatchString(s) {
		return true
	}
	for _, m := range schemelessCredentials.FindAllStringSubmatch(s, -1) {
		if !strings.EqualFold(m[1], "mailto") {
			return true
		}
	}
	return false
}

// Paths on the hosts (render.installDir, file: secrets): absolute, of
// segments of letters, digits and . _ + -, with no . or .. segment.
var safePath = lazyregexp.New(`^(/[A-Za-z0-9._+-]+)+$`)

const safePathWords = "an absolute path of / and segments of letters, digits and . _ + - (no spaces, no . or .. segment, no // and no / at the end; e.g. /opt/hagen)"

// pathProblem is what is wrong with p as a path on a host; "" when nothing.
func pathProblem(p string) string {
	if !safePath.MatchString(p) {
		return "is not " + safePathWords
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return fmt.Sprintf("has the segment %q; write %s", seg, safePathWords)
		}
	}
	return ""
}

// URLs of clients.url: scheme://[user@]host[:port][/path], host a DNS
// name, an IPv4 address or an IPv6 address in brackets, the path of
// letters, digits and . _ ~ / -.
var clientURL = lazyregexp.New(`^([a-z][a-z0-9+.-]*)://(?:[A-Za-z0-9._-]+@)?(\[[0-9a-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*)(:([0-9]{1,5}))?(/[A-Za-z0-9._~/-]*)?$`)

const clientURLWords = "scheme://[user@]host[:port][/path]: a lower-case scheme, a DNS name, an IPv4 address or an IPv6 address in brackets, a port 1-65535, a path of letters, digits and . _ ~ / -, and no password (e.g. grpc://ha.test:8001 or grpc://[2001:db8::10]:8001)"

// urlProblem is what is wrong with u as clients.url; "" when nothing.
func urlProblem(u string) string {
	m := clientURL.FindStringSubmatch(u)
	if m == nil {
		return "is not " + clientURLWords
	}
	if m[7] != "" {
		if n, _ := strconv.Atoi(m[7]); n < 1 || n > 65535 {
			return fmt.Sprintf("has the port %s; write %s", m[7], clientURLWords)
		}
	}
	if host := m[2]; strings.HasPrefix(host, "[") {
		a, err := netip.ParseAddr(host[1 : len(host)-1])
		switch {
		case err != nil || !a.Is6() || a.Is4In6():
			return fmt.Sprintf("has %s, which is no IPv6 address; write %s", host, clientURLWords)
		case "["+a.String()+"]" != host:
			return fmt.Sprintf("has %s; write the address in its canonical form, [%s]", host, a)
		}
	}
	return ""
}

const imageWords = "an image reference [registry[:port]/]name[:tag][@sha256:digest]: a lower-case name of letters, digits and . _ - separated by /, a tag of letters, digits and . _ - (e.g. example/app:1.2)"

// imageProblem is what is wrong with s as a Docker image reference (the
// grammar of github.com/distribution/reference); "" when nothing.
func imageProblem(s string) string {
	if i := strings.IndexAny(s, " \t$'\"`\\;&|<>(){}*?!#%"); i >= 0 {
		return fmt.Sprintf("holds %q, which no image reference has; write %s", s[i:i+1], imageWords)
	}
	if _, err := reference.Parse(s); err != nil {
		return fmt.Sprintf("is not %s (%v)", imageWords, err)
	}
	return ""
}

// textFields walks every string of t, map keys included, and calls fn with
// its path (as messages print it), whether it is a key, and the value.
func textFields(t *Topology, fn func(path string, key bool, s string)) {
	walkText(reflect.ValueOf(t).Elem(), "", fn)
}

func walkText(rv reflect.Value, path string, fn func(string, bool, string)) {
	switch rv.Kind() {
	case reflect.String:
		fn(path, false, rv.String())
	case reflect.Pointer:
		if !rv.IsNil() {
			walkText(rv.Elem(), path, fn)
		}
	case reflect.Struct:
		if tb, ok := rv.Interface().(Tables); ok {
			walkText(reflect.ValueOf(tb.List), path, fn)
			return
		}
		for i := range rv.NumField() {
			name, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			walkText(rv.Field(i), joinPath(path, name), fn)
		}
	case reflect.Slice:
		for i := range rv.Len() {
			walkText(rv.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case reflect.Map:
		keys := rv.MapKeys()
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = k.String()
		}
		for _, k := range sortedKeys(sliceSet(names)) {
			p := joinPath(path, k)
			fn(p, true, k)
			walkText(rv.MapIndex(reflect.ValueOf(k).Convert(rv.Type().Key())), p, fn)
		}
	}
}

func sliceSet(s []string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, x := range s {
		m[x] = true
	}
	return m
}
