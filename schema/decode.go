package schema

import (
	"fmt"
	"reflect"
	"strings"

	"cuelang.org/go/cue"
)

// decodePartial decodes v into rv as far as it goes and returns the paths
// (as printed in messages) of what did not decode: fields that CUE refused
// or that the spec leaves out. Those stay at their zero value, and the Go
// rules skip every rule that reads one of them (checker.ok), so the rules
// still check the rest of an invalid spec. valid says that v has passed
// validation, so that one Decode does it all.
func decodePartial(v cue.Value, rv reflect.Value, valid bool) []string {
	d := &decoder{}
	if valid && v.Decode(rv.Addr().Interface()) == nil {
		return nil
	}
	rv.Set(reflect.Zero(rv.Type()))
	d.value(v, rv, "")
	return d.broken
}

type decoder struct {
	broken []string
}

var unmarshalerType = reflect.TypeFor[interface{ UnmarshalJSON([]byte) error }]()

func (d *decoder) value(v cue.Value, rv reflect.Value, path string) {
	if v.Validate(cue.Concrete(true)) == nil {
		if err := v.Decode(rv.Addr().Interface()); err == nil {
			return
		}
		rv.Set(reflect.Zero(rv.Type()))
	}
	if reflect.PointerTo(rv.Type()).Implements(unmarshalerType) {
		d.broken = append(d.broken, path)
		return
	}
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.Type().Elem().Kind() != reflect.Struct {
			d.broken = append(d.broken, path)
			return
		}
		p := reflect.New(rv.Type().Elem())
		d.value(v, p.Elem(), path)
		rv.Set(p)
	case reflect.Struct:
		// A struct with an error inside has kind bottom: look its fields
		// up all the same. A value that is no struct has none, and each
		// comes out missing.
		if k := v.IncompleteKind(); k != cue.BottomKind && k&cue.StructKind == 0 {
			d.broken = append(d.broken, path)
			return
		}
		for i := range rv.NumField() {
			f := rv.Type().Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			fv := v.LookupPath(cue.MakePath(cue.Str(name)))
			if !fv.Exists() {
				if !strings.Contains(opts, "omitempty") {
					d.broken = append(d.broken, joinPath(path, name))
				}
				continue
			}
			d.value(fv, rv.Field(i), joinPath(path, name))
		}
	case reflect.Slice:
		// List fails on a list with an error in one element: take the
		// elements one by one instead.
		if k := v.IncompleteKind(); k != cue.BottomKind && k&cue.ListKind == 0 {
			d.broken = append(d.broken, path)
			return
		}
		s := reflect.MakeSlice(rv.Type(), 0, 0)
		for i := 0; ; i++ {
			ev := v.LookupPath(cue.MakePath(cue.Index(i)))
			if !ev.Exists() {
				break
			}
			e := reflect.New(rv.Type().Elem()).Elem()
			d.value(ev, e, fmt.Sprintf("%s[%d]", path, i))
			s = reflect.Append(s, e)
		}
		if s.Len() == 0 {
			if _, err := v.List(); err != nil {
				d.broken = append(d.broken, path)
				return
			}
		}
		rv.Set(s)
	case reflect.Map:
		it, err := v.Fields()
		if err != nil {
			d.broken = append(d.broken, path)
			return
		}
		m := reflect.MakeMap(rv.Type())
		for it.Next() {
			sel := it.Selector()
			if sel.LabelType() != cue.StringLabel {
				continue
			}
			key := sel.Unquoted()
			e := reflect.New(rv.Type().Elem()).Elem()
			d.value(it.Value(), e, joinPath(path, key))
			m.SetMapIndex(reflect.ValueOf(key).Convert(rv.Type().Key()), e)
		}
		rv.Set(m)
	default:
		d.broken = append(d.broken, path)
	}
}

// joinPath appends a field label to a path as messages print it.
func joinPath(path, label string) string {
	label = quoteLabel(label)
	if path == "" {
		return label
	}
	return path + "." + label
}
