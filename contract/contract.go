// Package contract holds the files of a rendered tree that programs read
// back: inventory.json (hagen check and hagen verify), agent/agent.json
// (hagen agent) and clients/client.json (the client library's settings).
// Each has one Go type and one strict decoder here, shared by render (which
// writes them), check, verify and the agent, so that writer and readers
// cannot drift apart: a field a reader does not know is an error.
//
// The package depends on the standard library only.
package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// Paths of the contract files in a rendered tree (slash-separated).
const (
	InventoryFile      = "inventory.json"
	ClientSettingsFile = "clients/client.json"
	// AgentConfigFile is below each primary-standby site's directory.
	AgentConfigFile = "agent/agent.json"
)

// Encode is how every contract file is written: indented JSON with a
// final newline, so that the files diff well in review.
func Encode(v any) ([]byte, error) {
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.Clone(e.buf.Bytes()), nil
}

// encoder is Encode's JSON encoder and the buffer it writes in, reused
// (encoders): a file costs one allocation of its size instead of a
// compact copy, an indented copy that doubles up to the file's size, and
// a third for the final newline.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetIndent("", "  ")
	return e
}}

// validator is implemented by contract types that check their content
// beyond the JSON shape.
type validator interface{ Validate() error }

// decode reads one JSON value into v strictly: unknown fields, a second
// value or trailing data are errors, and so is whatever v's Validate
// reports. Errors name the file and, where encoding/json gives an offset,
// its line and column.
func decode(name string, data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return PositionError(name, data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%s: data after the top-level value", name)
	}
	if val, ok := v.(validator); ok {
		if err := val.Validate(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// PositionError formats a decoding error as "name:line:col: message" where
// encoding/json gives an offset, else "name: message".
func PositionError(name string, data []byte, err error) error {
	var off int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the offending character: point at it.
		off = max(syn.Offset-1, 0)
	case errors.As(err, &typ):
		off = typ.Offset
	}
	if off < 0 {
		return fmt.Errorf("%s: %w", name, err)
	}
	line, col := 1, 1
	for _, c := range data[:min(int(off), len(data))] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Errorf("%s:%d:%d: %w", name, line, col, err)
}

func readFile[T any](path string, parse func(string, []byte) (*T, error)) (*T, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(path, data)
}

// problems collects content errors of a contract file, one line each.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p *problems) need(field, value string) {
	if strings.TrimSpace(value) == "" {
		p.add("%s is empty", field)
	}
}

func (p *problems) port(field string, v int) {
	if v < 1 || v > 65535 {
		p.add("%s %d is not a port", field, v)
	}
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.New(strings.Join(p, "; "))
}
