package schema

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
)

// What the schema allows, in words, read from the syntax of topology.cue:
// an error says what would be valid from the same source CUE checks with.

// patternWords describes every regular expression of topology.cue (=~, !~
// and pattern constraints on map keys). TestPatternsHaveWords keeps it
// complete.
var patternWords = map[string]string{
	`^[a-z][a-z0-9-]{0,30}[a-z0-9]$`:             "a name of lower-case letters, digits and -, starting with a letter and ending with a letter or digit; 2 to 32 characters",
	`^[a-z0-9.-]+$`:                              "lower-case letters, digits, . and -",
	`^[0-9a-f.:]+/[0-9]+$`:                       "an address of digits and dots (IPv4) or lower-case hexadecimal digits and colons (IPv6), / and a prefix length",
	`^[a-z_][a-z0-9_]{0,62}$`:                    "lower-case letters, digits and _, starting with a letter or _; at most 63 characters",
	`^[a-z0-9_]{1,63}$`:                          "lower-case letters, digits and _; 1 to 63 characters",
	`^[a-z][a-z0-9.]{0,14}$`:                     "an interface name of lower-case letters, digits and ., starting with a letter; at most 15 characters",
	`^/[A-Za-z0-9._~/-]*(\?[A-Za-z0-9._~=-]*)?$`: "a path of / followed by letters, digits and . _ ~ / -, optionally ? and a query of letters, digits and . _ ~ = - (e.g. /stats or /haproxy?stats)",
	`^[A-Za-z_][A-Za-z0-9_]{0,127}$`:             "a variable name of letters, digits and _, not starting with a digit; at most 128 characters",
	`^/[A-Za-z0-9._/-]{0,127}$`:                  "a path of / followed by letters, digits and . _ / -; at most 128 characters (e.g. /primary or /var/modules/mirror/ready.txt)",

	// PostgreSQL settings.
	`^[a-z][a-z0-9_]{0,62}(\.[a-z][a-z0-9_]{0,62})?$`: "a parameter name of lower-case letters, digits and _, starting with a letter, optionally a . and a second such name (an extension's parameter, e.g. pg_stat_statements.max)",
	`^[0-9]{1,9}(kB|MB|GB|TB)?$`:                      "a size: digits and optionally kB, MB, GB or TB (e.g. 512MB)",
}

// builtinWords describes the builtins topology.cue calls.
var builtinWords = map[string]string{
	"net.FQDN":         "a DNS name",
	"net.IPv4":         "an IPv4 address (e.g. 10.231.0.10)",
	"net.IP":           "an IPv4 or IPv6 address (e.g. 10.231.0.10 or 2001:db8::10)",
	"net.IPCIDR":       "a network in CIDR form (e.g. 10.231.0.0/24 or 2001:db8::/64)",
	"strings.MinRunes": "at least %s characters",
	"strings.MaxRunes": "at most %s characters",
	"strings.MaxBytes": "at most %s bytes",
}

// defWords describes the definitions whose form is checked in Go.
var defWords = map[string]string{
	"#SecretRef": "a secret reference: env:NAME (a variable of the site's hagen.env) or file:/absolute/path",
	"#Image":     imageWords,
	"#URL":       clientURLWords,
	"#HostPath":  safePathWords,
	"#FreeText":  fmt.Sprintf("text of printable characters, at most %d bytes", MaxFreeTextBytes),
}

// schemaDoc is the syntax of topology.cue, by definition name.
type schemaDoc struct {
	defs map[string]ast.Expr
}

var (
	docOnce sync.Once
	doc     *schemaDoc
)

func theDoc() *schemaDoc {
	docOnce.Do(func() {
		doc = &schemaDoc{defs: map[string]ast.Expr{}}
		f, err := parser.ParseFile("topology.cue", schemaSource)
		if err != nil {
			panic(fmt.Sprintf("hagen's schema does not parse: %v", err))
		}
		for _, d := range f.Decls {
			if fl, ok := d.(*ast.Field); ok {
				if name, _, err := ast.LabelName(fl.Label); err == nil {
					doc.defs[name] = fl.Value
				}
			}
		}
	})
	return doc
}

// topLevelFields are the fields of #Topology, in order.
func topLevelFields() []string {
	names, _ := declaredFields(nil)
	return names
}

// at is the schema's expression for the field at sels, or nil.
func (d *schemaDoc) at(sels []cue.Selector) ast.Expr {
	var e ast.Expr = d.defs["#Topology"]
	for _, s := range sels {
		if e = d.child(e, s); e == nil {
			return nil
		}
	}
	return e
}

// child is the expression of the field sel of e.
func (d *schemaDoc) child(e ast.Expr, sel cue.Selector) ast.Expr {
	switch x := e.(type) {
	case *ast.Ident:
		if def, ok := d.defs[x.Name]; ok {
			return d.child(def, sel)
		}
	case *ast.ParenExpr:
		return d.child(x.X, sel)
	case *ast.UnaryExpr:
		if x.Op == token.MUL {
			return d.child(x.X, sel)
		}
	case *ast.BinaryExpr:
		if c := d.child(x.X, sel); c != nil {
			return c
		}
		return d.child(x.Y, sel)
	case *ast.StructLit:
		if sel.LabelType() != cue.StringLabel {
			return nil
		}
		return d.structField(x.Elts, sel.Unquoted())
	case *ast.ListLit:
		if sel.LabelType() != cue.IndexLabel {
			return nil
		}
		var fixed []ast.Expr
		for _, el := range x.Elts {
			if el, ok := el.(*ast.Ellipsis); ok {
				if sel.Index() >= len(fixed) {
					return el.Type
				}
				continue
			}
			fixed = append(fixed, el)
		}
		if sel.Index() < len(fixed) {
			return fixed[sel.Index()]
		}
	}
	return nil
}

// structField is the declared field name among decls, or the value of a
// pattern constraint that name is subject to.
func (d *schemaDoc) structField(decls []ast.Decl, name string) ast.Expr {
	var pattern ast.Expr
	for _, decl := range decls {
		switch x := decl.(type) {
		case *ast.Field:
			if _, ok := x.Label.(*ast.ListLit); ok {
				pattern = x.Value
				continue
			}
			if n, _, err := ast.LabelName(x.Label); err == nil && n == name {
				return x.Value
			}
		case *ast.Comprehension:
			if s, ok := x.Value.(*ast.StructLit); ok {
				if e := d.structField(s.Elts, name); e != nil {
					return e
				}
			}
		}
	}
	return pattern
}

// declaredFields lists the fields the schema declares at sels, or, for a
// map, describes the names it takes.
func declaredFields(sels []cue.Selector) (names []string, pattern string) {
	d := theDoc()
	e := d.at(sels)
	var collect func(e ast.Expr)
	collect = func(e ast.Expr) {
		switch x := e.(type) {
		case *ast.Ident:
			if def, ok := d.defs[x.Name]; ok {
				collect(def)
			}
		case *ast.BinaryExpr:
			collect(x.X)
			collect(x.Y)
		case *ast.ParenExpr:
			collect(x.X)
		case *ast.StructLit:
			for _, decl := range x.Elts {
				switch f := decl.(type) {
				case *ast.Field:
					if l, ok := f.Label.(*ast.ListLit); ok && len(l.Elts) == 1 {
						pattern = d.describe(l.Elts[0])
						continue
					}
					if n, _, err := ast.LabelName(f.Label); err == nil && !strings.HasPrefix(n, "#") {
						names = append(names, n)
					}
				case *ast.Comprehension:
					collect(f.Value)
				}
			}
		}
	}
	collect(e)
	return names, pattern
}

// describePath is what the schema allows at sels in words, or "".
func describePath(sels []cue.Selector) string {
	d := theDoc()
	e := d.at(sels)
	if e == nil {
		return ""
	}
	return d.describe(e)
}

// describe says in words what the constraint e allows.
func (d *schemaDoc) describe(e ast.Expr) string {
	var alts []ast.Expr
	var def ast.Expr
	var split func(e ast.Expr)
	split = func(e ast.Expr) {
		switch x := e.(type) {
		case *ast.BinaryExpr:
			if x.Op == token.OR {
				split(x.X)
				split(x.Y)
				return
			}
		case *ast.UnaryExpr:
			if x.Op == token.MUL {
				def = x.X
				return
			}
		case *ast.ParenExpr:
			split(x.X)
			return
		}
		alts = append(alts, e)
	}
	split(e)
	var dflt string
	if def != nil {
		dflt = " (default " + d.conj(def) + ")"
	}
	literals := def == nil || isLiteral(def)
	for _, a := range alts {
		literals = literals && isLiteral(a)
	}
	if literals && len(alts)+btoi(def != nil) > 1 {
		var vals []string
		if def != nil {
			vals = append(vals, d.conj(def))
		}
		for _, a := range alts {
			vals = append(vals, d.conj(a))
		}
		return "one of " + strings.Join(vals, ", ") + dflt
	}
	var words []string
	for _, a := range alts {
		words = append(words, d.conj(a))
	}
	if len(words) == 0 && def != nil {
		words = append(words, d.conj(def))
	}
	return strings.Join(words, ", or ") + dflt
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func isLiteral(e ast.Expr) bool {
	_, ok := e.(*ast.BasicLit)
	return ok
}

// conj describes a conjunction (a & b & ...) of constraints.
func (d *schemaDoc) conj(e ast.Expr) string {
	var parts []ast.Expr
	var flatten func(e ast.Expr)
	flatten = func(e ast.Expr) {
		if x, ok := e.(*ast.BinaryExpr); ok && x.Op == token.AND {
			flatten(x.X)
			flatten(x.Y)
			return
		}
		parts = append(parts, e)
	}
	flatten(e)
	var base, lo, hi string
	var words []string
	for _, p := range parts {
		switch x := p.(type) {
		case *ast.Ident:
			switch x.Name {
			case "int", "string", "bool", "number", "float":
				base = x.Name
			default:
				if w, ok := defWords[x.Name]; ok {
					words = append(words, w)
				} else if def, ok := d.defs[x.Name]; ok {
					words = append(words, d.describe(def))
				}
			}
		case *ast.BasicLit:
			words = append(words, x.Value)
		case *ast.UnaryExpr:
			lit, _ := x.X.(*ast.BasicLit)
			if lit == nil {
				continue
			}
			switch x.Op {
			case token.GEQ:
				lo = lit.Value
			case token.GTR:
				lo = "more than " + lit.Value
			case token.LEQ:
				hi = lit.Value
			case token.LSS:
				hi = "less than " + lit.Value
			case token.MAT, token.NMAT:
				re, err := literal.Unquote(lit.Value)
				if w, ok := patternWords[re]; err == nil && ok {
					words = append(words, w)
				} else {
					words = append(words, "text matching "+lit.Value)
				}
			}
		case *ast.CallExpr:
			if sel, ok := x.Fun.(*ast.SelectorExpr); ok {
				pkg, _ := sel.X.(*ast.Ident)
				name, _, _ := ast.LabelName(sel.Sel)
				if pkg == nil {
					continue
				}
				w, ok := builtinWords[pkg.Name+"."+name]
				if !ok {
					continue
				}
				if strings.Contains(w, "%s") && len(x.Args) == 1 {
					if lit, ok := x.Args[0].(*ast.BasicLit); ok {
						w = fmt.Sprintf(w, lit.Value)
					}
				}
				words = append(words, w)
			}
		case *ast.ListLit:
			words = append(words, d.describeList(x))
		case *ast.StructLit:
			words = append(words, d.describeStruct(x))
		case *ast.ParenExpr:
			words = append(words, d.describe(x.X))
		case *ast.BinaryExpr:
			words = append(words, d.describe(x))
		}
	}
	switch {
	case base == "int" && lo != "" && hi != "" && !strings.Contains(lo+hi, " "):
		words = append([]string{fmt.Sprintf("an integer from %s to %s", lo, hi)}, words...)
	case base == "int" || lo != "" || hi != "":
		w := "an integer"
		if base != "int" {
			w = "a number"
		}
		if lo != "" {
			w += " of at least " + lo
		}
		if hi != "" {
			w += " of at most " + hi
		}
		words = append([]string{w}, words...)
	case base == "bool":
		words = append([]string{"true or false"}, words...)
	case base == "string" && len(words) == 0:
		words = []string{"a string"}
	}
	return strings.Join(words, ", ")
}

// describeStruct names the fields a struct requires: those that are
// neither optional nor defaulted.
func (d *schemaDoc) describeStruct(s *ast.StructLit) string {
	var required []string
	for _, decl := range s.Elts {
		f, ok := decl.(*ast.Field)
		if !ok || f.Constraint == token.OPTION {
			continue
		}
		name, _, err := ast.LabelName(f.Label)
		if err != nil || strings.HasPrefix(name, "#") || d.optional(f.Value) {
			continue
		}
		required = append(required, name)
	}
	if len(required) == 0 {
		return "a struct"
	}
	return "a struct with the fields " + andList(required)
}

// optional reports whether a field of constraint e may be left out: it
// has a default, or is a struct or open list whose every field may be.
func (d *schemaDoc) optional(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.Ident:
		if def, ok := d.defs[x.Name]; ok {
			return d.optional(def)
		}
		return false
	case *ast.UnaryExpr:
		return x.Op == token.MUL
	case *ast.BinaryExpr:
		if x.Op == token.OR {
			return d.optional(x.X) || d.optional(x.Y)
		}
		return d.optional(x.X) && d.optional(x.Y)
	case *ast.ParenExpr:
		return d.optional(x.X)
	case *ast.ListLit:
		return len(x.Elts) == 1 && isEllipsis(x.Elts[0])
	case *ast.StructLit:
		for _, decl := range x.Elts {
			f, ok := decl.(*ast.Field)
			if !ok {
				continue
			}
			if _, pattern := f.Label.(*ast.ListLit); pattern || f.Constraint == token.OPTION {
				continue
			}
			if !d.optional(f.Value) {
				return false
			}
		}
		return true
	}
	return false
}

func isEllipsis(e ast.Expr) bool {
	_, ok := e.(*ast.Ellipsis)
	return ok
}

// describeList describes a list type: its element and its least length.
func (d *schemaDoc) describeList(l *ast.ListLit) string {
	n := 0
	var elem ast.Expr
	for _, el := range l.Elts {
		if _, ok := el.(*ast.Comprehension); ok {
			return "a list computed from other fields"
		}
		if e, ok := el.(*ast.Ellipsis); ok {
			if elem == nil {
				elem = e.Type
			}
			continue
		}
		n++
		elem = el
	}
	w := "a list"
	if n > 0 {
		w += fmt.Sprintf(" of at least %d %s", n, plural(n, "entry", "entries"))
	}
	if elem != nil {
		if ew := d.describe(elem); ew != "" && ew != "a struct" {
			w += " (each " + ew + ")"
		}
	}
	return w
}

// schemaPatterns lists every regular expression of topology.cue, for the
// test that keeps patternWords complete.
func schemaPatterns() []string {
	f, err := parser.ParseFile("topology.cue", schemaSource)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	ast.Walk(f, func(n ast.Node) bool {
		if u, ok := n.(*ast.UnaryExpr); ok && (u.Op == token.MAT || u.Op == token.NMAT) {
			if lit, ok := u.X.(*ast.BasicLit); ok {
				if re, err := literal.Unquote(lit.Value); err == nil {
					seen[re] = true
				}
			}
		}
		return true
	}, nil)
	out := make([]string, 0, len(seen))
	for re := range seen {
		out = append(out, re)
	}
	sort.Strings(out)
	return out
}
