package probe

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Operations recorded in an Event.
const (
	// OpConnect: the client resolved a server name and asked it which site
	// it serves (GET /site). In distribution mode, one per session.
	OpConnect = "connect"
	// OpWrite: one POST /write; OK only when the server acknowledged the
	// commit.
	OpWrite = "write"
	// OpFailover: the client gave up on From, waited the reconnect delay,
	// and turns to Server. Err is the failure that caused it.
	OpFailover = "failover"
)

// Event is one line of `hagen probe client` output.
type Event struct {
	// T is the wall-clock time of the event in Unix nanoseconds: when
	// the reply arrived (or the request failed).
	T  int64  `json:"t"`
	Op string `json:"op"`
	// ID of the write (client id + sequence number); writes only.
	ID string `json:"id,omitempty"`
	// Server is the DNS name used (0.ha.test), Addr what it resolved to.
	Server string `json:"server,omitempty"`
	Addr   string `json:"addr,omitempty"`
	// From is the server given up on; failover only.
	From string `json:"from,omitempty"`
	// Site is what the server said it serves.
	Site string `json:"site,omitempty"`
	OK   bool   `json:"ok"`
	Err  string `json:"err,omitempty"`
	// LatencyNs is the duration of the request, when there was one.
	LatencyNs int64 `json:"latencyNs,omitempty"`
	// Session numbers the sessions of distribution mode from 1.
	Session int `json:"session,omitempty"`
}

// Time is T as a time.Time.
func (e Event) Time() time.Time { return time.Unix(0, e.T) }

// ParseEvents reads the JSON lines written by `hagen probe client`. Blank
// lines are skipped. A last line without a newline that does not parse is
// ignored: it is what a client killed in the middle of a write leaves.
// Any other bad line is an error naming its line number.
func ParseEvents(r io.Reader) ([]Event, error) {
	br := bufio.NewReader(r)
	var events []Event
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return events, err
		}
		complete := err == nil
		if text := bytes.TrimSpace(line); len(text) > 0 {
			var e Event
			if jerr := json.Unmarshal(text, &e); jerr != nil {
				if !complete {
					return events, nil
				}
				return events, fmt.Errorf("probe events: line %d: %v", n, jerr)
			}
			events = append(events, e)
		}
		if !complete {
			return events, nil
		}
	}
}

// eventWriter writes events as JSON lines, one write per line so that a
// reader following the output (or a killed process) never sees half of
// one. Safe for concurrent use.
type eventWriter struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

func (ew *eventWriter) emit(e Event) {
	data, err := json.Marshal(e)
	if err != nil {
		// Event has only strings, numbers and bools.
		panic(err)
	}
	data = append(data, '\n')
	ew.mu.Lock()
	defer ew.mu.Unlock()
	if ew.err == nil {
		_, ew.err = ew.w.Write(data)
	}
}
