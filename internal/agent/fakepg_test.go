package agent

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/hagen-ha/hagen/contract"
)

// fakePG speaks enough of PostgreSQL's protocol to answer the agent's
// statements, on a Unix socket as the rendered agent reaches the real
// one. It counts the sessions opened and open, so tests can hold the
// agent to its pool, and can be slowed down to make requests overlap.
type fakePG struct {
	dir  string
	port int
	ln   net.Listener

	mu       sync.Mutex
	role     string // "primary", "fenced" or "standby"
	names    string // synchronous_standby_names
	replicas [][]any
	delay    time.Duration // before every answer
	super    bool
	version  int
	canAlter bool
	altered  []string

	opened, open, maxOpen, statements, cancels atomic.Int64
	conns                                      sync.Map // net.Conn → struct{}
}

func newFakePG(t *testing.T) *fakePG {
	t.Helper()
	dir := t.TempDir()
	f := &fakePG{dir: dir, port: 5432, role: "primary", names: `FIRST 1 ("db1")`, version: 150004, canAlter: true,
		replicas: [][]any{{"db1", "10.0.0.12", "streaming", "sync", int64(0), 0.001}}}
	ln, err := net.Listen("unix", filepath.Join(dir, fmt.Sprintf(".s.PGSQL.%d", f.port)))
	if err != nil {
		t.Fatal(err)
	}
	f.ln = ln
	go f.serve()
	t.Cleanup(func() {
		ln.Close()
		f.conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
	})
	return f
}

// db is how the agent reaches it: the socket directory, peer style.
func (f *fakePG) db() contract.AgentDatabase {
	return contract.AgentDatabase{Host: f.dir, Port: f.port, User: contract.AgentRole, Name: "postgres", SSLMode: "disable", ConnectTimeout: 2}
}

func (f *fakePG) set(fn func(*fakePG)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// dropSessions closes every session, as a database restart does.
func (f *fakePG) dropSessions() {
	f.conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
}

func (f *fakePG) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		go f.session(c)
	}
}

func (f *fakePG) session(c net.Conn) {
	be := pgproto3.NewBackend(c, c)
	startup, err := be.ReceiveStartupMessage()
	if err != nil {
		c.Close()
		return
	}
	if _, ok := startup.(*pgproto3.CancelRequest); ok {
		// Not a session: PostgreSQL handles it without a connection slot
		// (pgx sends one when it abandons a broken session).
		f.cancels.Add(1)
		c.Close()
		return
	}
	f.opened.Add(1)
	n := f.open.Add(1)
	for {
		m := f.maxOpen.Load()
		if n <= m || f.maxOpen.CompareAndSwap(m, n) {
			break
		}
	}
	f.conns.Store(c, struct{}{})
	defer func() {
		f.conns.Delete(c)
		f.open.Add(-1)
		c.Close()
	}()
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.ParameterStatus{Name: "server_version", Value: "15.4"})
	be.Send(&pgproto3.ParameterStatus{Name: "standard_conforming_strings", Value: "on"})
	be.Send(&pgproto3.ParameterStatus{Name: "client_encoding", Value: "UTF8"})
	be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 1}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if be.Flush() != nil {
		return
	}
	for {
		msg, err := be.Receive()
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pgproto3.Terminate:
			return
		case *pgproto3.Query:
			f.statements.Add(1)
			f.mu.Lock()
			delay := f.delay
			f.mu.Unlock()
			time.Sleep(delay)
			f.answer(be, m.String)
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			if be.Flush() != nil {
				return
			}
		default:
			be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "0A000", Message: fmt.Sprintf("fakePG: %T not supported", msg)})
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			be.Flush()
		}
	}
}

// Type OIDs of the columns the agent reads.
const (
	oidBool   = 16
	oidInt8   = 20
	oidInt4   = 23
	oidText   = 25
	oidFloat8 = 701
)

func (f *fakePG) answer(be *pgproto3.Backend, sql string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case strings.Contains(sql, "current_setting('default_transaction_read_only')::boolean,"):
		rec, ro := f.role == "standby", f.role == "fenced"
		var tl any = int32(1)
		if rec {
			tl = nil
		}
		rows(be, []uint32{oidBool, oidBool, oidText, oidInt4}, []any{rec, ro, "0/3000060", tl})
	case strings.Contains(sql, "current_setting('synchronous_standby_names')"):
		rows(be, []uint32{oidText}, []any{f.names})
	case strings.Contains(sql, "FROM pg_stat_replication"):
		rows(be, []uint32{oidText, oidText, oidText, oidText, oidInt8, oidFloat8}, f.replicas...)
	case strings.Contains(sql, "FROM pg_stat_wal_receiver"):
		rows(be, []uint32{oidText, oidText, oidInt4, oidText, oidText, oidInt4}, []any{"streaming", "10.0.0.11", int32(5444), "db1", "0/3000060", int32(1)})
	case strings.Contains(sql, "pg_is_wal_replay_paused()"):
		rows(be, []uint32{oidInt8, oidBool, oidFloat8}, []any{int64(0), false, 0.5})
	case strings.Contains(sql, "server_version_num"):
		rows(be, []uint32{oidInt4, oidText, oidBool, oidBool}, []any{int32(f.version), contract.AgentRole, f.super, true})
	case strings.Contains(sql, "has_parameter_privilege"):
		rows(be, []uint32{oidBool}, []any{f.canAlter})
	case strings.HasPrefix(sql, "ALTER SYSTEM SET synchronous_standby_names = "):
		v := strings.TrimPrefix(sql, "ALTER SYSTEM SET synchronous_standby_names = ")
		v = strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'"), "''", "'")
		f.altered = append(f.altered, v)
		f.names = v
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte("ALTER SYSTEM")})
	case sql == "SELECT pg_reload_conf()":
		rows(be, []uint32{oidBool}, []any{true})
	default:
		be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "42601", Message: "fakePG does not know: " + sql})
	}
}

// rows sends a result set in text format.
func rows(be *pgproto3.Backend, types []uint32, values ...[]any) {
	fields := make([]pgproto3.FieldDescription, len(types))
	for i, t := range types {
		fields[i] = pgproto3.FieldDescription{Name: []byte(fmt.Sprintf("c%d", i)), DataTypeOID: t, DataTypeSize: -1, TypeModifier: -1}
	}
	be.Send(&pgproto3.RowDescription{Fields: fields})
	for _, row := range values {
		data := make([][]byte, len(row))
		for i, v := range row {
			switch v := v.(type) {
			case nil:
			case bool:
				data[i] = []byte("f")
				if v {
					data[i] = []byte("t")
				}
			default:
				data[i] = []byte(fmt.Sprint(v))
			}
		}
		be.Send(&pgproto3.DataRow{Values: data})
	}
	be.Send(&pgproto3.CommandComplete{CommandTag: []byte(fmt.Sprintf("SELECT %d", len(values)))})
}
