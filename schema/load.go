// Package schema owns the CUE schema of a hagen spec and the one function
// that turns a .cue file into a typed, validated Topology. Nothing else in
// hagen touches the CUE API.
package schema

import (
	_ "embed"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"
)

//go:embed topology.cue
var schemaSource []byte

// Warning is a finding that does not make the spec invalid.
type Warning struct {
	Pos  token.Pos
	Path string
	Msg  string
}

func (w Warning) String() string {
	if w.Pos.IsValid() {
		return fmt.Sprintf("%s: warning: %s: %s", w.Pos, w.Path, w.Msg)
	}
	return fmt.Sprintf("warning: %s: %s", w.Path, w.Msg)
}

// Load reads, validates and decodes the spec in filename. All violations
// come back at once as a cue/errors list (print it with errors.Print);
// warnings come back even when the spec is valid.
func Load(filename string) (*Topology, []Warning, error) {
	src, err := os.ReadFile(filename)
	if err != nil {
		return nil, nil, err
	}
	return Parse(filename, src)
}

// Parse is Load for a spec already in memory; filename is used for
// positions and file headers.
func Parse(filename string, src []byte) (*Topology, []Warning, error) {
	ctx := cuecontext.New()
	def := ctx.CompileBytes(schemaSource, cue.Filename("hagen/schema/topology.cue")).
		LookupPath(cue.ParsePath("#Topology"))
	if err := def.Err(); err != nil {
		return nil, nil, fmt.Errorf("internal schema error: %w", err)
	}
	user := ctx.CompileBytes(src, cue.Filename(filename))
	if err := user.Err(); err != nil {
		return nil, nil, normalize(err, filename, cue.Value{}, cue.Value{})
	}
	// The user's value first keeps error paths relative to the spec.
	v := user.Unify(def)
	if err := v.Validate(cue.Concrete(true)); err != nil {
		return nil, nil, normalize(err, filename, user, v)
	}
	var t Topology
	if err := v.Decode(&t); err != nil {
		return nil, nil, normalize(err, filename, user, v)
	}
	t.Source = filename
	c := &checker{v: v, user: user, file: filename, t: &t}
	c.run()
	if c.errs != nil {
		return nil, c.warnings, c.errs
	}
	return &t, c.warnings, nil
}

// normalize rewrites CUE's errors into hagen's form: "path: message" with
// list indices in brackets, at the position of the field in the spec file
// (not in hagen's schema), in the order of the spec. user is the spec as
// written and v the spec unified with the schema (either may be the zero
// Value when the spec did not compile); they locate fields the spec leaves
// out and name the fields it could have meant.
func normalize(err error, filename string, user, v cue.Value) errors.Error {
	var out errors.Error
	for _, e := range errors.Errors(err) {
		path := fieldPath(e.Path())
		msg := message(e, path, user, v)
		pos := token.NoPos
		for _, p := range append([]token.Pos{e.Position()}, errors.Positions(e)...) {
			if p.Filename() == filename {
				pos = p
				break
			}
		}
		if !pos.IsValid() && path != "" {
			pos = specPos(user, path)
		}
		if path != "" {
			msg = path + ": " + msg
		}
		out = errors.Append(out, errors.Newf(pos, "%s", msg))
	}
	errors.Sanitize(out)
	return out
}

// message is CUE's message for e, reworded where CUE's own words do not
// say what would be valid.
func message(e errors.Error, path string, user, v cue.Value) string {
	format, args := e.Msg()
	switch format {
	case "invalid value %s (does not satisfy %s)":
		if len(args) == 2 {
			value := fmt.Sprint(args[0])
			if s, err := strconv.Unquote(value); err == nil {
				value = s
			}
			switch fmt.Sprint(args[1]) {
			case "net.IPv4":
				return value + " is not an IPv4 address; write four numbers 0-255 (e.g. 10.231.0.10)"
			case "net.IPCIDR":
				return value + " is not a network in CIDR form; write address/prefix with a prefix 0-32 (e.g. 10.231.0.0/24)"
			case "net.FQDN":
				return value + " is not a DNS name; write labels of letters, digits and hyphens (e.g. 0.ha.test)"
			}
		}
	case "incompatible list lengths (%d and %d)":
		if len(args) == 2 {
			have, haveOK := args[0].(int)
			want, wantOK := args[1].(int)
			if haveOK && wantOK && have < want {
				return fmt.Sprintf("has %d %s; at least %d required", have, plural(have, "entry", "entries"), want)
			}
		}
	case "incomplete value %v":
		if path != "" && !user.LookupPath(cue.MakePath(selectors(path)...)).Exists() && len(args) == 1 {
			return fmt.Sprintf("missing; this field is required (%v)", args[0])
		}
	case "field not allowed":
		if path != "" {
			return notAllowed(path, v)
		}
	}
	return fmt.Sprintf(format, args...)
}

// notAllowed explains a field that the closed schema rejects: the field
// the spec probably meant, or the fields it may have.
func notAllowed(path string, v cue.Value) string {
	sels := selectors(path)
	if len(sels) == 0 {
		return "field not allowed"
	}
	bad := sels[len(sels)-1].String()
	parent := v.LookupPath(cue.MakePath(sels[:len(sels)-1]...))
	var names []string
	if it, err := parent.Fields(cue.Optional(true)); err == nil {
		for it.Next() {
			if name := it.Selector().Unquoted(); name != bad {
				names = append(names, name)
			}
		}
	}
	if len(names) == 0 {
		return "field not allowed"
	}
	best, bestDist := "", 0
	for _, n := range names {
		if d := editDistance(strings.ToLower(bad), strings.ToLower(n)); best == "" || d < bestDist {
			best, bestDist = n, d
		}
	}
	if bestDist <= max(2, len(bad)/4) {
		return "field not allowed; did you mean " + best
	}
	sort.Strings(names)
	return "field not allowed; allowed here: " + strings.Join(names, ", ")
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// fieldPath joins a CUE path as sites[1].address, with labels unquoted as
// the Go-side rules print them (services.my-app, not services."my-app").
func fieldPath(elems []string) string {
	var b strings.Builder
	for _, el := range elems {
		if s, err := strconv.Unquote(el); err == nil && strings.HasPrefix(el, `"`) {
			el = s
		}
		if _, err := strconv.Atoi(el); err == nil {
			fmt.Fprintf(&b, "[%s]", el)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(el)
	}
	return b.String()
}
