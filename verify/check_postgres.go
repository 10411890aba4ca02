package verify

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hagen-ha/hagen/internal/lazyregexp"
)

// PostgreSQL is checked by the server itself. For each directory with a
// postgresql.conf (pg_hba.conf, pg_ident.conf), a throwaway PostgreSQL 15
// server of the check container starts as production starts it, with
// `-c config_file=<the rendered postgresql.conf>` at its production path
// under /etc/hagen, on a data directory initdb made in the container. Only
// the paths of the production host are replaced by the container's, on the
// command line: hba_file and ident_file by check-owned copies (so that a
// broken pg_hba.conf cannot keep the server from starting and be read in
// isolation below), unix_socket_directories by a private one, and the TLS
// files (which the entrypoint installs at start from the host's) by a
// throwaway certificate.
//
//   - postgresql.conf: a server that does not start fails the check with its
//     log ("... in file "..." line N"); one that starts is asked for
//     pg_file_settings, and every row with an error fails it with the file
//     and line the row names. The rows of the replaced settings say
//     "setting could not be applied" (the running value is the command
//     line's) and are not errors of the file; instead the files hba_file and
//     ident_file name must exist in the tree. Every parameter the file sets
//     must be in the server's own list, pg_settings: the server accepts a
//     name with a dot it does not know (the parameter of an extension that
//     is not loaded) as a placeholder, without a word.
//   - pg_hba.conf: copied over the server's hba_file and read through
//     pg_hba_file_rules, which parses the file as a reload would: every row
//     with an error fails the check with its line.
//   - pg_ident.conf: PostgreSQL 15 has no view of it, so it is copied over
//     the server's ident_file and the server reloads; what the server logs
//     while loading it (the reload is complete when pg_conf_load_time()
//     changes) is the verdict.
const (
	pgRoot     = "/check/pg"
	pgDataDir  = pgRoot + "/data"
	pgSockDir  = pgRoot + "/sock"
	pgHBACopy  = pgRoot + "/pg_hba.conf"
	pgIdentCp  = pgRoot + "/pg_ident.conf"
	pgLog      = pgRoot + "/server.log"
	pgFallback = pgRoot + "/fallback.conf"
	// A throwaway certificate, its key and itself as the CA: production's
	// TLS files are installed at start from the host's (security.tls).
	pgCheckCert = pgRoot + "/tls.crt"
	pgCheckKey  = pgRoot + "/tls.key"
	pgCheckCA   = pgRoot + "/ca.crt"
)

// pgOverridden are the settings the check container replaces on the
// command line.
var pgOverridden = map[string]bool{"hba_file": true, "ident_file": true, "unix_socket_directories": true,
	"ssl_cert_file": true, "ssl_key_file": true, "ssl_ca_file": true}

type pgState struct {
	ready bool
	// results holds the verdicts of the directories checked so far, by
	// file: a directory's files are checked together.
	results map[string]CheckResult
}

// checkPostgresFile returns the verdict on one PostgreSQL file, checking
// its directory's files together the first time one of them is asked for.
func (b *checkBox) checkPostgresFile(ctx context.Context, f *checkFile) (CheckResult, error) {
	if err := b.pgInit(ctx); err != nil {
		return CheckResult{}, err
	}
	if r, ok := b.pg.results[f.rel]; ok {
		return r, nil
	}
	rs, err := b.checkPostgres(ctx, f.dir())
	if err != nil {
		return CheckResult{}, err
	}
	for _, r := range rs {
		b.pg.results[r.File] = r
	}
	r, ok := b.pg.results[f.rel]
	if !ok {
		return CheckResult{}, fmt.Errorf("the PostgreSQL check of %s gave no result for %s", f.dir(), f.rel)
	}
	return r, nil
}

// pgInit creates the data directory once per check container.
func (b *checkBox) pgInit(ctx context.Context) error {
	if b.pg != nil && b.pg.ready {
		return nil
	}
	b.pg = &pgState{results: map[string]CheckResult{}}
	script := strings.Join([]string{
		"set -eu",
		"install -d -o postgres -g postgres -m 0700 " + pgRoot + " " + pgSockDir,
		// ssl = on, so that hostssl records are read as with TLS.
		"printf '%s\\n' \"listen_addresses = ''\" 'ssl = on' > " + pgFallback,
		"chown postgres:postgres " + pgFallback,
		"openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=hagen-check -keyout " + pgCheckKey + " -out " + pgCheckCert + " 2>/dev/null",
		"cp " + pgCheckCert + " " + pgCheckCA,
		"chown postgres:postgres " + pgCheckCert + " " + pgCheckKey + " " + pgCheckCA,
		"chmod 0600 " + pgCheckKey,
	}, "\n")
	if code, out, err := b.exec(ctx, "", nil, "sh", "-c", script); err != nil || code != 0 {
		return fmt.Errorf("prepare PostgreSQL in the check container: %v %s", err, out)
	}
	code, out, err := b.exec(ctx, "postgres", nil, "initdb", "--pgdata="+pgDataDir, "--username=postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--data-checksums")
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("initdb in the check container: %s", strings.TrimSpace(out))
	}
	b.pg.ready = true
	return nil
}

// checkPostgres checks the PostgreSQL files of one directory of the tree.
func (b *checkBox) checkPostgres(ctx context.Context, dir string) ([]CheckResult, error) {
	if err := b.pgInit(ctx); err != nil {
		return nil, err
	}
	// The directory's files by reader: one postgresql.conf and
	// pg_ident.conf, and one pg_hba.conf per render target.
	var conf, ident *checkFile
	var hbas []*checkFile
	for _, f := range b.t.files {
		if f.dir() != dir || f.missing {
			continue
		}
		switch f.kind {
		case checkerPGConf:
			conf = f
		case checkerPGIdent:
			ident = f
		case checkerPGHBA:
			hbas = append(hbas, f)
		}
	}
	var results []CheckResult

	// Placeholders: a trust rule for the check's own connections, no maps.
	reset := strings.Join([]string{
		"set -eu",
		"printf 'local all postgres trust\\n' > " + pgHBACopy,
		": > " + pgIdentCp,
		": > " + pgLog,
		"chown postgres:postgres " + pgHBACopy + " " + pgIdentCp + " " + pgLog,
	}, "\n")
	if code, out, err := b.exec(ctx, "", nil, "sh", "-c", reset); err != nil || code != 0 {
		return nil, fmt.Errorf("reset PostgreSQL files in the check container: %v %s", err, out)
	}

	started := false
	if conf != nil {
		r := CheckResult{File: conf.rel, Checker: checkerPGConf}
		ok, log, err := b.pgStart(ctx, boxEtc+"/"+conf.sub)
		if err != nil {
			return nil, err
		}
		if !ok {
			r.Message = pgMessages(log)
			if r.Message == "" {
				r.Message = "the server did not start and logged nothing"
			}
		} else {
			started = true
			r.OK, r.Message, err = b.pgFileSettings(ctx)
			if err != nil {
				return nil, err
			}
		}
		results = append(results, r)
	}
	if !started && (len(hbas) > 0 || ident != nil) {
		ok, log, err := b.pgStart(ctx, pgFallback)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("the check's own PostgreSQL server did not start: %s", pgMessages(log))
		}
	}
	// pg_ident.conf first: its reload also reloads hba_file, which must
	// still be the placeholder then.
	if ident != nil {
		r, err := b.pgIdent(ctx, ident)
		if err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	for _, hba := range hbas {
		r, err := b.pgHBA(ctx, hba)
		if err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	if !started && len(hbas) == 0 && ident == nil {
		return results, nil // no server is running
	}
	code, out, err := b.exec(ctx, "postgres", nil, "pg_ctl", "--pgdata="+pgDataDir, "--mode=fast", "--wait", "stop")
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("stop the check's PostgreSQL server: %s", strings.TrimSpace(out))
	}
	return results, nil
}

// pgStart starts the server with a config file and returns whether it
// started and, if not, its log.
func (b *checkBox) pgStart(ctx context.Context, configFile string) (bool, string, error) {
	opts := strings.Join([]string{
		"-c config_file=" + configFile,
		"-c hba_file=" + pgHBACopy,
		"-c ident_file=" + pgIdentCp,
		"-c unix_socket_directories=" + pgSockDir,
		"-c ssl_cert_file=" + pgCheckCert,
		"-c ssl_key_file=" + pgCheckKey,
		"-c ssl_ca_file=" + pgCheckCA,
	}, " ")
	code, _, err := b.exec(ctx, "postgres", nil, "pg_ctl", "--pgdata="+pgDataDir, "--wait", "--timeout=60",
		"--log="+pgLog, "--options="+opts, "start")
	if err != nil {
		return false, "", err
	}
	if code == 0 {
		return true, "", nil
	}
	_, log, err := b.exec(ctx, "", nil, "cat", pgLog)
	return false, log, err
}

// pgQuery runs SQL on the running server and returns its rows, fields
// separated by the unit separator.
func (b *checkBox) pgQuery(ctx context.Context, sql string) ([][]string, error) {
	// The socket's name carries the port of the rendered configuration.
	script := `p=$(ls -a ` + pgSockDir + ` | sed -n 's/^\.s\.PGSQL\.\([0-9]*\)$/\1/p' | head -n 1)
exec psql --no-psqlrc --host=` + pgSockDir + ` --port="$p" --username=postgres --dbname=postgres --no-align --tuples-only --field-separator="$(printf '\037')" --set=ON_ERROR_STOP=1 --command="$1"`
	code, out, err := b.exec(ctx, "postgres", nil, "sh", "-c", script, "psql", sql)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("query the check's PostgreSQL server: %s", strings.TrimSpace(out))
	}
	var rows [][]string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if l != "" {
			rows = append(rows, strings.Split(l, "\x1f"))
		}
	}
	return rows, nil
}

func (b *checkBox) pgFileSettings(ctx context.Context) (bool, string, error) {
	rows, err := b.pgQuery(ctx, `SELECT coalesce(sourcefile, ''), coalesce(sourceline, 0), coalesce(name, ''), coalesce(setting, ''), coalesce(error, '')
FROM pg_file_settings WHERE error IS NOT NULL OR name IN ('hba_file', 'ident_file') ORDER BY seqno`)
	if err != nil {
		return false, "", err
	}
	var msgs []string
	for _, row := range rows {
		if len(row) != 5 {
			return false, "", fmt.Errorf("pg_file_settings: unexpected row %q", row)
		}
		file, line, name, setting, msg := row[0], row[1], row[2], row[3], row[4]
		where := file + ":" + line
		if file == "" {
			where = "postgresql.conf"
		}
		if pgOverridden[name] && msg == "setting could not be applied" {
			msg = ""
		}
		if msg != "" {
			msgs = append(msgs, fmt.Sprintf("%s: %s (%s = '%s')", where, msg, name, setting))
			continue
		}
		if name == "hba_file" || name == "ident_file" {
			code, _, err := b.exec(ctx, "postgres", nil, "test", "-r", setting)
			if err != nil {
				return false, "", err
			}
			if code != 0 {
				msgs = append(msgs, fmt.Sprintf("%s: %s = '%s': no such file in the site's tree", where, name, setting))
			}
		}
	}
	// A name the server does not know is kept as a placeholder without a
	// word when it has a dot (an extension's parameter whose extension is
	// not loaded): the server's own list, pg_settings, decides (names are
	// case-insensitive: the file's timezone is pg_settings' TimeZone).
	// hagen.node is hagen's own such placeholder, on purpose: the node's
	// name for current_setting() where Patroni takes cluster_name.
	rows, err = b.pgQuery(ctx, `SELECT coalesce(f.sourcefile, ''), coalesce(f.sourceline, 0), f.name, split_part(current_setting('server_version'), ' ', 1)
FROM pg_file_settings f WHERE f.error IS NULL AND f.name IS NOT NULL AND lower(f.name) <> 'hagen.node'
AND NOT EXISTS (SELECT 1 FROM pg_settings s WHERE lower(s.name) = lower(f.name)) ORDER BY f.seqno`)
	if err != nil {
		return false, "", err
	}
	for _, row := range rows {
		if len(row) != 4 {
			return false, "", fmt.Errorf("pg_file_settings: unexpected row %q", row)
		}
		msgs = append(msgs, fmt.Sprintf("%s:%s: %s is not a parameter of PostgreSQL %s (pg_settings does not list it): the server keeps it as a placeholder and ignores it; load its extension (shared_preload_libraries) or remove it", row[0], row[1], row[2], row[3]))
	}
	return len(msgs) == 0, strings.Join(msgs, "\n"), nil
}

func (b *checkBox) pgHBA(ctx context.Context, f *checkFile) (CheckResult, error) {
	r := CheckResult{File: f.rel, Checker: checkerPGHBA}
	if err := b.pgInstall(ctx, f, pgHBACopy); err != nil {
		return r, err
	}
	rows, err := b.pgQuery(ctx, `SELECT coalesce(line_number, 0), error FROM pg_hba_file_rules WHERE error IS NOT NULL ORDER BY line_number`)
	if err != nil {
		return r, err
	}
	var msgs []string
	for _, row := range rows {
		if len(row) != 2 {
			return r, fmt.Errorf("pg_hba_file_rules: unexpected row %q", row)
		}
		msgs = append(msgs, fmt.Sprintf("%s:%s: %s", inBox(f), row[0], row[1]))
	}
	r.OK = len(msgs) == 0
	r.Message = strings.Join(msgs, "\n")
	return r, nil
}

func (b *checkBox) pgIdent(ctx context.Context, f *checkFile) (CheckResult, error) {
	r := CheckResult{File: f.rel, Checker: checkerPGIdent}
	before, err := b.pgQuery(ctx, `SELECT pg_conf_load_time()`)
	if err != nil {
		return r, err
	}
	_, size, err := b.exec(ctx, "", nil, "sh", "-c", "wc -c < "+pgLog)
	if err != nil {
		return r, err
	}
	offset, err := strconv.Atoi(strings.TrimSpace(size))
	if err != nil {
		return r, fmt.Errorf("size of the server log: %q", size)
	}
	if err := b.pgInstall(ctx, f, pgIdentCp); err != nil {
		return r, err
	}
	if _, err := b.pgQuery(ctx, `SELECT pg_reload_conf()`); err != nil {
		return r, err
	}
	// A new backend inherits the postmaster's reload time, which it sets
	// after reading the files; the postmaster reads pg_ident.conf in the
	// same signal handler, before it accepts the next connection.
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows, err := b.pgQuery(ctx, fmt.Sprintf(`SELECT pg_conf_load_time() > '%s'::timestamptz`, before[0][0]))
		if err != nil {
			return r, err
		}
		if len(rows) == 1 && rows[0][0] == "t" {
			break
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("the check's PostgreSQL server did not reload in 30s")
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	_, log, err := b.exec(ctx, "", nil, "tail", "-c", "+"+strconv.Itoa(offset+1), pgLog)
	if err != nil {
		return r, err
	}
	// The reload also re-reads postgresql.conf, checked on its own: its
	// complaints about the settings replaced on the command line are not
	// about this file.
	var lines []string
	for _, l := range strings.Split(pgMessages(log), "\n") {
		if m := pgReloadNoise.FindStringSubmatch(l); m != nil && (m[1] == "" || pgOverridden[m[1]]) {
			continue
		}
		if l != "" {
			lines = append(lines, l)
		}
	}
	msg := strings.Join(lines, "\n")
	r.OK = msg == ""
	if !r.OK && !strings.Contains(msg, pgIdentCp) {
		msg = inBox(f) + ": " + msg
	}
	r.Message = strings.ReplaceAll(msg, pgIdentCp, inBox(f))
	return r, nil
}

// pgInstall copies a rendered file over one of the server's files.
func (b *checkBox) pgInstall(ctx context.Context, f *checkFile, dst string) error {
	code, out, err := b.exec(ctx, "", nil, "sh", "-c", `cp "$1" "$2" && chown postgres:postgres "$2" && chmod 0600 "$2"`, "sh", inBox(f), dst)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("copy %s for the check's PostgreSQL server: %s", f.rel, strings.TrimSpace(out))
	}
	return nil
}

var (
	pgSeverity    = lazyregexp.New(`\b(LOG|WARNING|ERROR|FATAL|PANIC|DETAIL|HINT|CONTEXT):  `)
	pgReloadNoise = lazyregexp.New(`^LOG:  (?:parameter "([a-z_]+)" cannot be changed without restarting the server|configuration file ".*" contains errors; unaffected changes were applied)$`)
	// pgRoutine are log lines of every start, stop and reload.
	pgRoutine = lazyregexp.New(`^LOG:  (starting PostgreSQL|listening on|database system |redo |checkpoint |invalid record length|received SIGHUP|received fast shutdown|aborting any active|background worker|shutting down|automatic recovery|could not remove cache)`)
)

// pgMessages are the lines of a server log that say something about the
// configuration: the prefix (log_line_prefix is the rendered one) cut
// before the severity, routine lines left out.
func pgMessages(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		loc := pgSeverity.FindStringIndex(l)
		if loc == nil {
			continue
		}
		l = l[loc[0]:]
		if pgRoutine.MatchString(l) {
			continue
		}
		out = append(out, l)
	}
	return checkCleanLines(strings.Join(out, "\n"))
}
