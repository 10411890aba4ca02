// Package schema owns the CUE schema of a hagen spec and the one function
// that turns a .cue file into a typed, validated Topology. Nothing else in
// hagen touches the CUE API.
package schema

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
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
	return LoadContext(context.Background(), filename)
}

// LoadContext is Load that gives up when ctx is done, even in the middle of
// evaluating the spec; it then returns ctx's error.
func LoadContext(ctx context.Context, filename string) (*Topology, []Warning, error) {
	f, err := os.Open(filename)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	// Never read more than the cap (and one byte to tell): a spec named
	// /dev/zero must not fill the memory.
	src, err := io.ReadAll(io.LimitReader(f, MaxSpecBytes+1))
	if err != nil {
		return nil, nil, err
	}
	return ParseContext(ctx, filename, src)
}

// Parse is Load for a spec already in memory; filename is used for
// positions and file headers.
func Parse(filename string, src []byte) (*Topology, []Warning, error) {
	return ParseContext(context.Background(), filename, src)
}

// ParseContext is Parse that gives up when ctx is done. CUE's evaluation
// cannot be interrupted, so it runs in a goroutine that is abandoned (and
// ends on its own) when ctx is done first.
func ParseContext(ctx context.Context, filename string, src []byte) (*Topology, []Warning, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	type result struct {
		t   *Topology
		w   []Warning
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: internalError(filename, src, p)}
			}
			done <- r
		}()
		r.t, r.w, r.err = parse(filename, src)
	}()
	select {
	case r := <-done:
		return r.t, r.w, r.err
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// internalError turns a panic into an error a person can report, without
// a Go stack trace.
func internalError(filename string, src []byte, p any) error {
	return errors.Newf(fileStart(filename, src), "%s", escapeText(fmt.Sprintf(
		"hagen failed on this spec with an internal error (%v); no position is known: please report it together with the spec", p)))
}

func parse(filename string, src []byte) (*Topology, []Warning, error) {
	if len(src) > MaxSpecBytes {
		return nil, nil, tooLarge(filename, src)
	}
	file, err := parser.ParseFile(filename, src)
	if err != nil {
		return nil, nil, syntaxErrors(err, filename, src)
	}
	if err := checkLimits(file); err != nil {
		return nil, nil, err
	}
	ctx := cuecontext.New()
	schema := ctx.CompileBytes(schemaSource, cue.Filename("hagen/schema/topology.cue"))
	def := schema.LookupPath(cue.ParsePath("#Topology"))
	if err := def.Err(); err != nil {
		return nil, nil, fmt.Errorf("internal schema error: %w", err)
	}
	user := ctx.BuildFile(file)
	r := &report{file: filename, src: src, user: user}
	if err := user.Err(); err != nil {
		r.addCUE(err)
		return nil, nil, r.err()
	}
	// The user's value first keeps error paths relative to the spec.
	v := user.Unify(def)
	r.v, r.schema = v, schema
	cueErr := v.Validate(cue.Concrete(true), cue.All())
	// The Go rules run on whatever decodes, so that one run reports the
	// schema's violations and the rules' together.
	var t Topology
	broken := decodePartial(v, reflect.ValueOf(&t).Elem(), cueErr == nil)
	if cueErr == nil && len(broken) > 0 {
		return nil, nil, fmt.Errorf("internal error: the validated spec does not decode at %s", broken[0])
	}
	// A field CUE refused is off limits to the rules even where a value
	// decodes (an element of a list whose disjunction failed).
	for _, e := range errors.Errors(cueErr) {
		if p := fieldPath(e.Path()); !strings.HasPrefix(p, "#") {
			broken = append(broken, p)
		}
	}
	t.Source = filename
	t.witnessDefaults()
	c := &checker{v: v, user: user, file: filename, t: &t, broken: broken}
	c.run()
	r.addCUE(cueErr)
	if cueErr != nil {
		r.addMissing()
	}
	r.addRules(c)
	if err := r.err(); err != nil {
		return nil, c.warnings, err
	}
	return &t, c.warnings, nil
}
