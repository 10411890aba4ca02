package schema

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"

	"github.com/hagen-ha/hagen/internal/lazyregexp"
)

// report collects the violations of one spec, CUE's and the Go rules', and
// turns them into hagen's form: "path: what is wrong; what would be valid"
// at the field's position in the spec (never in hagen's schema), one error
// per field and mistake, near-identical ones grouped.
type report struct {
	file string
	src  []byte
	user cue.Value // the spec as written
	v    cue.Value // the spec unified with #Topology
	// schema is the compiled schema file; unused but kept with the values
	// it was unified with.
	schema cue.Value
	diags  []diag
}

// diag is one violation: kind tells near-identical violations (the same
// rule on other entries) apart from different ones.
type diag struct {
	pos             token.Pos
	path, msg, kind string
	more            int    // for kindMore: how many it stands for
	suggests        string // for kindNotAllowed: the field it probably meant
}

// Kinds the report treats specially.
const (
	kindMissing    = "missing"
	kindControl    = "control"
	kindNotAllowed = "not allowed"
)

// groupAfter and groupShown: when more than groupAfter violations share a
// rule and a field (up to list indices), the first groupShown are printed
// and one line counts the rest.
const (
	groupAfter = 5
	groupShown = 3
)

// addCUE adds CUE's errors, one per field: a field that fails several
// constraints (a disjunction with a default fails each branch) gets one
// message saying what would be valid.
func (r *report) addCUE(err error) {
	if err == nil {
		return
	}
	var order []string
	byPath := map[string][]errors.Error{}
	for _, e := range errors.Errors(err) {
		p := fieldPath(e.Path())
		if f, _ := e.Msg(); f == "field not allowed" {
			p = outermostUnknown(p)
		}
		if strings.HasPrefix(p, "#") {
			// About one of hagen's definitions as a whole (#Database:
			// unresolved disjunction): a consequence of an error in the
			// spec that is reported at the spec's field.
			continue
		}
		if _, seen := byPath[p]; !seen {
			order = append(order, p)
		}
		byPath[p] = append(byPath[p], e)
	}
	for _, p := range order {
		es := byPath[p]
		if emptyDisjunction(es) && slices.ContainsFunc(order, func(q string) bool { return isUnder(q, p) }) {
			// A list or struct none of whose alternatives fits because of
			// an error inside it, which is reported on its own.
			continue
		}
		msg, kind := r.explain(p, es)
		d := diag{pos: r.position(p, es), path: p, msg: msg, kind: kind}
		if kind == kindNotAllowed {
			if _, s, ok := strings.Cut(msg, "did you mean "); ok {
				d.suggests = s
			}
		}
		r.diags = append(r.diags, d)
	}
}

// addMissing adds every required field the spec leaves out. CUE reports
// missing fields only when nothing else is wrong; hagen reports them in
// the same run as the rest.
func (r *report) addMissing() {
	if !r.v.Exists() {
		return
	}
	var walk func(v cue.Value, sels []cue.Selector)
	walk = func(v cue.Value, sels []cue.Selector) {
		if it, err := v.Fields(); err == nil {
			for it.Next() {
				sel := it.Selector()
				if sel.LabelType() != cue.StringLabel {
					continue
				}
				child := append(slices.Clip(sels), sel)
				if !r.user.LookupPath(cue.MakePath(child...)).Exists() {
					if it.Value().Validate(cue.Concrete(true)) != nil {
						p := selectorsPath(child)
						r.diags = append(r.diags, diag{pos: r.position(p, nil), path: p, msg: "missing; this field is required", kind: kindMissing})
					}
					continue
				}
				walk(it.Value(), child)
			}
			return
		}
		if it, err := v.List(); err == nil {
			for i := 0; it.Next(); i++ {
				walk(it.Value(), append(slices.Clip(sels), cue.Index(i)))
			}
		}
	}
	walk(r.v, nil)
}

// emptyDisjunction reports whether errs say that no alternative of a
// disjunction fits.
func emptyDisjunction(errs []errors.Error) bool {
	for _, e := range errs {
		if f, _ := e.Msg(); strings.Contains(f, "empty disjunction") {
			return true
		}
	}
	return false
}

// position is where errs about path are reported: the first position in
// the spec file CUE gives, else the field (or its nearest ancestor) in the
// spec, else the start of the file.
func (r *report) position(path string, errs []errors.Error) token.Pos {
	// The field's own value where the spec writes it: CUE may point at a
	// value it was computed from instead.
	if path != "" && r.v.Exists() {
		if p := r.v.LookupPath(cue.MakePath(selectors(path)...)).Pos(); p.IsValid() && p.Filename() == r.file {
			return p
		}
	}
	for _, e := range errs {
		for _, p := range append([]token.Pos{e.Position()}, errors.Positions(e)...) {
			if p.IsValid() && p.Filename() == r.file {
				return p
			}
		}
	}
	if p := specPos(r.user, path); p.IsValid() {
		return p
	}
	return fileStart(r.file, r.src)
}

// addRules adds the Go rules' violations.
func (r *report) addRules(c *checker) {
	for _, v := range c.errs {
		pos := c.pos(v.path)
		if !pos.IsValid() {
			pos = fileStart(r.file, r.src)
		}
		kind := v.kind
		if strings.HasPrefix(v.msg, "holds the control character") || strings.HasPrefix(v.msg, "the name holds the control character") {
			kind = kindControl
		}
		r.diags = append(r.diags, diag{pos: pos, path: v.path, msg: v.msg, kind: kind})
	}
}

// err is the report as a cue/errors list, or nil.
func (r *report) err() error {
	diags := r.missing(r.diags)
	diags = controlWins(diags)
	diags = group(diags)
	if len(diags) == 0 {
		return nil
	}
	var out errors.Error
	for _, d := range diags {
		msg := d.msg
		if d.path != "" {
			msg = d.path + ": " + msg
		}
		var e errors.Error = errors.Newf(d.pos, "%s", escapeText(msg))
		if d.kind == kindMore {
			e = &moreError{e: e, n: d.more}
		}
		out = errors.Append(out, e)
	}
	return out
}

// missing reports each missing field once, at the outermost field the
// spec leaves out (database, not database.name and database.password),
// and the missing top-level fields of a spec in one message that lists
// them all. Errors that follow from a missing field are dropped.
func (r *report) missing(diags []diag) []diag {
	// A misspelt field is one mistake: the field it meant is not also
	// reported missing.
	meant := map[string]bool{}
	for _, d := range diags {
		if d.suggests != "" {
			sels := selectors(d.path)
			meant[joinPath(selectorsPath(sels[:len(sels)-1]), d.suggests)] = true
		}
	}
	kept := diags[:0:0]
	for _, d := range diags {
		if d.kind == kindMissing && meant[d.path] {
			continue
		}
		kept = append(kept, d)
	}
	diags = kept
	missing := map[string]bool{}
	for i, d := range diags {
		if d.kind != kindMissing {
			continue
		}
		p := r.outermostMissing(d.path)
		diags[i].path = p
		missing[p] = true
	}
	var top []string
	for p := range missing {
		if len(selectors(p)) == 1 {
			top = append(top, p)
		}
	}
	if len(top) > 1 {
		// In the order of the schema (read from its syntax only when a
		// message needs it: a valid spec never does).
		order := topLevelFields()
		sort.Slice(top, func(i, j int) bool { return slices.Index(order, top[i]) < slices.Index(order, top[j]) })
	}
	var out []diag
	seen := map[string]bool{}
	for _, d := range diags {
		under := false
		for p := range missing {
			if isUnder(d.path, p) {
				under = true
			}
		}
		switch {
		case under:
			continue // follows from the missing field
		case d.path == "" && len(missing) > 0:
			continue // CUE's path-less complaints about what is missing
		case d.kind == kindMissing:
			if seen[d.path] || (len(top) > 1 && slices.Contains(top, d.path)) {
				continue
			}
			seen[d.path] = true
			d.msg = "missing; this field is required" + r.valid(d.path, ": write ")
		}
		out = append(out, d)
	}
	if len(top) > 1 {
		what := "the spec lacks"
		if len(strings.TrimSpace(string(r.src))) == 0 {
			what = "the spec is empty; it needs"
		}
		out = append(out, diag{pos: fileStart(r.file, r.src), kind: kindMissing, msg: fmt.Sprintf(
			"%s the required top-level fields %s (hagen init --topology NAME writes a complete spec to start from)", what, andList(top))})
	}
	return out
}

// outermostMissing is the outermost field on the way to path that the
// spec does not write.
func (r *report) outermostMissing(path string) string {
	sels := selectors(path)
	for n := 1; n <= len(sels); n++ {
		if !r.user.LookupPath(cue.MakePath(sels[:n]...)).Exists() {
			return selectorsPath(sels[:n])
		}
	}
	return path
}

// selectorsPath prints selectors as a message path.
func selectorsPath(sels []cue.Selector) string {
	var p string
	for _, s := range sels {
		if s.LabelType() == cue.IndexLabel {
			p += fmt.Sprintf("[%d]", s.Index())
			continue
		}
		p = joinPath(p, s.Unquoted())
	}
	return p
}

// outermostUnknown is the outermost field on the way to path that the
// schema does not declare: for A[0] of an unknown field A, A.
func outermostUnknown(path string) string {
	sels := selectors(path)
	for n := 0; n < len(sels); n++ {
		if theDoc().at(sels[:n+1]) == nil {
			return selectorsPath(sels[:n+1])
		}
	}
	return path
}

// controlWins keeps only the control-character error of a field that CUE
// also refused for the same character.
func controlWins(diags []diag) []diag {
	control := map[string]bool{}
	for _, d := range diags {
		if d.kind == kindControl {
			control[d.path] = true
		}
	}
	var out []diag
	for _, d := range diags {
		if control[d.path] && d.kind != kindControl {
			continue
		}
		out = append(out, d)
	}
	return out
}

const kindMore = "more"

// moreError stands for n errors like the ones printed before it.
type moreError struct {
	e errors.Error
	n int
}

func (m *moreError) Error() string                { return m.e.Error() }
func (m *moreError) Position() token.Pos          { return m.e.Position() }
func (m *moreError) InputPositions() []token.Pos  { return m.e.InputPositions() }
func (m *moreError) Path() []string               { return m.e.Path() }
func (m *moreError) Msg() (string, []interface{}) { return m.e.Msg() }

// Count is the number of violations err holds, counting those that a
// grouped error line stands for.
func Count(err error) int {
	n := 0
	for _, e := range errors.Errors(err) {
		if m, ok := e.(*moreError); ok {
			n += m.n
			continue
		}
		n++
	}
	return n
}

var listIndex = lazyregexp.New(`\[[0-9]+\]`)

// group prints near-identical violations (the same rule on the same field
// of other list entries) a few times and counts the rest.
func group(diags []diag) []diag {
	sort.SliceStable(diags, func(i, j int) bool { return diags[i].pos.Compare(diags[j].pos) < 0 })
	key := func(d diag) string { return listIndex.ReplaceAllString(d.path, "[k]") + "\x00" + d.kind }
	count := map[string]int{}
	for _, d := range diags {
		count[key(d)]++
	}
	shown := map[string]int{}
	var out []diag
	for _, d := range diags {
		k := key(d)
		if count[k] <= groupAfter {
			out = append(out, d)
			continue
		}
		shown[k]++
		switch {
		case shown[k] <= groupShown:
			out = append(out, d)
		case shown[k] == groupShown+1:
			n := count[k] - groupShown
			out = append(out, diag{pos: d.pos, kind: kindMore, more: n,
				msg: fmt.Sprintf("… and %d more like %s (the same error on other entries; the first is here)", n, strings.SplitN(k, "\x00", 2)[0])})
		}
	}
	return out
}

// explain is the message for CUE's errors about one field, and its kind.
func (r *report) explain(path string, errs []errors.Error) (string, string) {
	format, args := errs[0].Msg()
	for _, e := range errs {
		if f, _ := e.Msg(); f == "field not allowed" {
			return r.notAllowed(path), kindNotAllowed
		}
	}
	cueMsg := escapeText(fmt.Sprintf(format, args...))
	if path == "" {
		return cueMsg, format
	}
	uv := r.user.LookupPath(cue.MakePath(selectors(path)...))
	if !uv.Exists() {
		return "missing; this field is required", kindMissing
	}
	if s, err := uv.String(); err == nil {
		if msg := textProblem(s); msg != "" {
			return msg, kindControl
		}
	}
	for _, e := range errs {
		if msg := builtinMessage(e); msg != "" {
			return msg, "builtin"
		}
	}
	if format == "incompatible list lengths (%d and %d)" && len(args) == 2 {
		have, haveOK := args[0].(int)
		want, wantOK := args[1].(int)
		if haveOK && wantOK && have < want {
			return fmt.Sprintf("has %d %s; at least %d required", have, plural(have, "entry", "entries"), want), format
		}
	}
	valid := r.valid(path, "; write ")
	if valid == "" || !uv.IsConcrete() {
		return cueMsg, format
	}
	value := show(uv)
	wrong := "is not valid here"
	if strings.HasPrefix(valid, "; write one of") {
		wrong = "is not allowed here"
	}
	for _, e := range errs {
		f, a := e.Msg()
		switch {
		case strings.HasPrefix(f, "conflicting value") && strings.Contains(f, "mismatched types"):
			wrong = "is " + kindWords(uv.Kind())
		case f == "invalid value %v (out of bound %s)" && len(a) == 2:
			if b := fmt.Sprint(a[1]); strings.HasPrefix(b, "=~") || strings.HasPrefix(b, "!~") {
				wrong = "is not allowed here"
			} else if wrong == "is not valid here" {
				wrong = "is out of range"
			}
		}
	}
	return value + " " + wrong + valid, "invalid"
}

// valid is "sep" and what the schema allows at path in words, or "" when
// the schema does not say.
func (r *report) valid(path, sep string) string {
	if d := describePath(selectors(path)); d != "" {
		return sep + d
	}
	return ""
}

// builtinMessage rewords CUE's message for a value that fails one of the
// net package's checks.
func builtinMessage(e errors.Error) string {
	format, args := e.Msg()
	if format != "invalid value %s (does not satisfy %s)" || len(args) != 2 {
		return ""
	}
	value := fmt.Sprint(args[0])
	if s, err := strconv.Unquote(value); err == nil {
		value = s
	}
	value = escapeText(value)
	switch fmt.Sprint(args[1]) {
	case "net.IPv4":
		return value + " is not an IPv4 address; write four numbers 0-255 (e.g. 10.231.0.10)"
	case "net.IP":
		return value + " is not an IP address; write four numbers 0-255 (e.g. 10.231.0.10) or an IPv6 address (e.g. 2001:db8::10)"
	case "net.IPCIDR":
		return value + " is not a network in CIDR form; write address/prefix with a prefix 0-32 for IPv4 or 0-128 for IPv6 (e.g. 10.231.0.0/24 or 2001:db8::/64)"
	case "net.FQDN":
		return value + " is not a DNS name; write labels of letters, digits and hyphens (e.g. 0.ha.test)"
	}
	return ""
}

// show is a concrete value as the message quotes it: strings quoted and
// escaped, long values cut.
func show(v cue.Value) string {
	if s, err := v.String(); err == nil {
		if len(s) > 80 {
			return quote(s[:77]) + "…"
		}
		return quote(s)
	}
	s := escapeText(fmt.Sprint(v))
	if len(s) > 80 || strings.Contains(s, "\n") {
		return kindWords(v.Kind())
	}
	return s
}

func kindWords(k cue.Kind) string {
	switch k {
	case cue.StringKind:
		return "a string"
	case cue.IntKind:
		return "an integer"
	case cue.FloatKind, cue.NumberKind:
		return "a number"
	case cue.BoolKind:
		return "true or false"
	case cue.StructKind:
		return "a struct"
	case cue.ListKind:
		return "a list"
	case cue.NullKind:
		return "null"
	case cue.BytesKind:
		return "bytes"
	}
	return "a value of another type"
}

// notAllowed explains a field that the closed schema rejects: a map key
// that is not a valid name, or a misspelt field, with the declared field
// it probably meant (never the input itself, never a name the schema does
// not declare), or the fields that are allowed there.
func (r *report) notAllowed(path string) string {
	sels := selectors(path)
	if len(sels) == 0 {
		return "field not allowed"
	}
	last := sels[len(sels)-1]
	bad := last.String()
	if last.LabelType() == cue.StringLabel {
		bad = last.Unquoted()
		if msg := textProblem(bad); msg != "" {
			return "the name " + msg
		}
	}
	names, pattern := declaredFields(sels[:len(sels)-1])
	if pattern != "" {
		return "this name is not valid here; write " + pattern
	}
	if len(names) == 0 {
		return "field not allowed; nothing can be added here"
	}
	// Of the declared fields, those this spec can have (database.bucardo
	// only in multi-master mode).
	if it, err := r.v.LookupPath(cue.MakePath(sels[:len(sels)-1]...)).Fields(cue.Optional(true)); r.v.Exists() && err == nil {
		var here []string
		for it.Next() {
			if n := it.Selector(); n.LabelType() == cue.StringLabel && slices.Contains(names, n.Unquoted()) {
				here = append(here, n.Unquoted())
			}
		}
		if len(here) > 0 {
			names = here
		}
	}
	if s := suggest(bad, names); s != "" {
		return "field not allowed; did you mean " + s
	}
	sort.Strings(names)
	return "field not allowed; allowed here: " + strings.Join(names, ", ")
}

// suggest is the declared name closest to bad, when it is close enough.
func suggest(bad string, names []string) string {
	best, bestDist := "", 0
	for _, n := range names {
		if n == bad {
			continue
		}
		if d := editDistance(strings.ToLower(bad), strings.ToLower(n)); best == "" || d < bestDist {
			best, bestDist = n, d
		}
	}
	if best != "" && bestDist <= max(2, len(bad)/4) {
		return best
	}
	return ""
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

// andList joins names as "a, b and c".
func andList(names []string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// fieldPath joins a CUE error path as sites[1].address, with labels
// unquoted as the Go-side rules print them (services.my-app, not
// services."my-app"); a label that is not a plain name stays quoted.
func fieldPath(elems []string) string {
	var p string
	for _, el := range elems {
		if strings.HasPrefix(el, `"`) {
			if s, err := strconv.Unquote(el); err == nil {
				p = joinPath(p, s)
				continue
			}
		}
		if _, err := strconv.Atoi(el); err == nil {
			p += "[" + el + "]"
			continue
		}
		p = joinPath(p, el)
	}
	return p
}
