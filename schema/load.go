// Package schema owns the CUE schema of a hagen spec and the one function
// that turns a .cue file into a typed, validated Topology. Nothing else in
// hagen touches the CUE API.
package schema

import (
	_ "embed"
	"fmt"
	"os"
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
		return nil, nil, normalize(err, filename)
	}
	// The user's value first keeps error paths relative to the spec.
	v := user.Unify(def)
	if err := v.Validate(cue.Concrete(true)); err != nil {
		return nil, nil, normalize(err, filename)
	}
	var t Topology
	if err := v.Decode(&t); err != nil {
		return nil, nil, normalize(err, filename)
	}
	t.Source = filename
	c := &checker{v: v, t: &t}
	c.run()
	if c.errs != nil {
		return nil, c.warnings, c.errs
	}
	return &t, c.warnings, nil
}

// normalize rewrites CUE's errors into hagen's form: "path: message" with
// list indices in brackets, at the position of the field in the spec file
// (not in hagen's schema), in the order of the spec.
func normalize(err error, filename string) errors.Error {
	var out errors.Error
	for _, e := range errors.Errors(err) {
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		pos := e.Position()
		for _, p := range errors.Positions(e) {
			if p.Filename() == filename {
				pos = p
				break
			}
		}
		if path := fieldPath(e.Path()); path != "" {
			msg = path + ": " + msg
		}
		out = errors.Append(out, errors.Newf(pos, "%s", msg))
	}
	errors.Sanitize(out)
	return out
}

// fieldPath joins a CUE path as sites[1].address.
func fieldPath(elems []string) string {
	var b strings.Builder
	for _, el := range elems {
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
