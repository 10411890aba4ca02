package image

import "testing"

func TestMirrorFromSources(t *testing.T) {
	tests := []struct {
		name     string
		filename string
		content  string
		want     string
		wantErr  bool
	}{{
		name:     "deb822 with security stanza first",
		filename: "debian.sources",
		content: `Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
# a comment inside a stanza
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`,
		want: "http://mirror.example/debian",
	}, {
		name:     "deb822 disabled and deb-src stanzas skipped",
		filename: "x.sources",
		content: `Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main

Types: deb deb-src
URIs: http://mirror.example/debian
Suites: bookworm
Components: main
`,
		want: "http://mirror.example/debian",
	}, {
		name:     "deb822 folded field and another release",
		filename: "x.sources",
		content: `Types: deb
URIs:
 https://mirror.example/debian
Suites: trixie
 trixie-updates
Components: main
`,
		want: "https://mirror.example/debian",
	}, {
		name:     "deb822 without a deb stanza",
		filename: "x.sources",
		content: `Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main
`,
		wantErr: true,
	}, {
		name:     "one-line",
		filename: "sources.list",
		content: `# deb http://commented.example/debian bookworm main
deb-src http://src.example/debian bookworm main
deb http://security.example/debian-security bookworm-security main
deb http://mirror.example/debian bookworm main contrib
`,
		want: "http://mirror.example/debian",
	}, {
		name:     "one-line with options",
		filename: "mirror.list",
		content:  "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.example/debian bookworm main\n",
		want:     "http://mirror.example/debian",
	}, {
		name:     "one-line with spaced options and a trailing comment",
		filename: "mirror.list",
		content:  "deb [ arch=amd64 ] http://mirror.example/debian bookworm main # nearest\n",
		want:     "http://mirror.example/debian",
	}, {
		name:     "one-line only pockets of another suite",
		filename: "sources.list",
		content:  "deb http://security.example/debian-security bookworm-security main\n",
		wantErr:  true,
	}, {
		name:     "one-line cdrom skipped",
		filename: "sources.list",
		content:  "deb cdrom:[Debian 12]/ bookworm main\ndeb file:/srv/mirror bookworm main\n",
		want:     "file:/srv/mirror",
	}, {
		name:     "empty",
		filename: "sources.list",
		content:  "",
		wantErr:  true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MirrorFromSources(tt.filename, tt.content, "bookworm")
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResolveMirrorPrecedence(t *testing.T) {
	t.Setenv(MirrorEnv, "http://env.example/debian")
	if got, _ := ResolveMirror("http://explicit.example/debian", Suite); got != "http://explicit.example/debian" {
		t.Errorf("explicit mirror: got %q", got)
	}
	if got, _ := ResolveMirror("", Suite); got != "http://env.example/debian" {
		t.Errorf("%s: got %q", MirrorEnv, got)
	}
}
