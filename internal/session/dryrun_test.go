package session

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/tree"
)

// snapshot lists everything under dir with its type, size, mode and mtime,
// so that two snapshots differ if anything was made, written or touched.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		m[p] = fmt.Sprintf("%v %v %d", fi.Mode(), fi.ModTime(), fi.Size())
		return nil
	})
	return m
}

// TestDryRunWritesNothing sends a tree as a dry run to a receiver that
// has some of it (one file the same, one different, a symlink the same)
// and not the rest (a directory, files under it): the plans say what a
// real run would do, both ends say it was a dry run, and nothing under
// the receiving directory changes; a receiver whose directory does not
// exist (no root) plans everything as new.
func TestDryRunWritesNothing(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	mt := time.Unix(1_700_000_000, 0)
	files := map[string]string{"same": "same bytes", "differs": "new bytes", "sub/new": "new", "sub/deeper/new2": "new2"}
	for name, body := range files {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mt, mt)
	}
	os.Symlink("same", filepath.Join(src, "link"))
	dst := t.TempDir()
	os.MkdirAll(filepath.Join(dst, "src"), 0o755)
	os.WriteFile(filepath.Join(dst, "src", "same"), []byte("same bytes"), 0o644)
	os.Chtimes(filepath.Join(dst, "src", "same"), mt, mt)
	os.WriteFile(filepath.Join(dst, "src", "differs"), []byte("old"), 0o644)
	os.Symlink("same", filepath.Join(dst, "src", "link"))
	want := map[string]proto.Action{
		"src": proto.ActionDone, "src/same": proto.ActionSkip, "src/differs": proto.ActionRefuse, "src/link": proto.ActionDone,
		"src/sub": proto.ActionDone, "src/sub/new": proto.ActionSend, "src/sub/deeper": proto.ActionDone, "src/sub/deeper/new2": proto.ActionSend,
	}
	items, err := tree.Walk([]string{src}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	for _, missing := range []bool{false, true} {
		name := "dir-exists"
		if missing {
			name = "no-dir"
		}
		t.Run(name, func(t *testing.T) {
			before := snapshot(t, dst)
			var root *os.Root
			if !missing {
				if root, err = os.OpenRoot(dst); err != nil {
					t.Fatal(err)
				}
				defer root.Close()
			}
			c, s := tcpPair(t)
			type out struct {
				res Result
				err error
			}
			done := make(chan out, 1)
			go func() {
				res, err := Receive(context.Background(), s, root, Options{Plaintext: true, DryRun: missing, Warn: func(string) {}})
				s.Close()
				done <- out{res, err}
			}()
			got := map[string]proto.Action{}
			sent, serr := Send(context.Background(), c, Items(items), Options{Plaintext: true, Dialed: true, DryRun: true, Warn: func(string) {},
				OnPlan: func(e proto.Entry, p proto.Plan) { got[e.Path] = p.Action }})
			r := <-done
			for p, a := range want {
				if missing && a != proto.ActionDone {
					a = proto.ActionSend // nothing is there
				}
				if got[p] != a {
					t.Errorf("%s: planned %v, want %v", p, got[p], a)
				}
			}
			wantErr := !missing // the differing file would be refused
			if (serr != nil) != wantErr || (r.err != nil) != wantErr {
				t.Errorf("send: %v; receive: %v; want errors %v (a refusal is a partial transfer)", serr, r.err, wantErr)
			}
			if !sent.DryRun || !r.res.DryRun || sent.BytesSent != 0 || r.res.BytesSent != 0 {
				t.Errorf("results: sender %+v, receiver %+v; want dry runs with nothing on the wire", sent, r.res)
			}
			if n := map[bool]int{false: 2, true: 4}[missing]; sent.ToSend != n || r.res.ToSend != n {
				t.Errorf("to send: sender %d, receiver %d; want %d", sent.ToSend, r.res.ToSend, n)
			}
			after := snapshot(t, dst)
			if len(after) != len(before) {
				t.Errorf("the receiving directory changed: %d entries, was %d", len(after), len(before))
			}
			for p, v := range before {
				if after[p] != v {
					t.Errorf("%s changed: %q, was %q", p, after[p], v)
				}
			}
		})
	}
}

// TestDryRunRefusals: a receiver started for dry runs refuses a sender
// that did not ask for one, saying what to do; a sender that asks for a
// dry run and then sends a body anyway ends the session as malformed, and
// nothing is written.
func TestDryRunRefusals(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, []byte("x"), 0o644)
	items, _ := tree.Walk([]string{src}, func(string) {})
	t.Run("not a dry run", func(t *testing.T) {
		c, s := tcpPair(t)
		done := make(chan error, 1)
		go func() {
			_, err := Receive(context.Background(), s, nil, Options{Plaintext: true, DryRun: true})
			s.Close()
			done <- err
		}()
		_, serr := Send(context.Background(), c, Items(items), Options{Plaintext: true, Dialed: true})
		rerr := <-done
		for _, err := range []error{serr, rerr} {
			if err == nil || !strings.Contains(err.Error(), "--dry-run") {
				t.Errorf("%v; want a refusal naming --dry-run", err)
			}
		}
	})
	t.Run("a body in a dry run", func(t *testing.T) {
		dst := t.TempDir()
		root, _ := os.OpenRoot(dst)
		defer root.Close()
		c, br, done := handSender(t, root, proto.FlagDryRun)
		var m []byte
		m = (&proto.Entry{Kind: proto.KindFile, Path: "f", Mode: 0o644, Size: 1}).Append(m)
		m = (&proto.Entry{Kind: proto.KindEnd}).Append(m)
		c.Write(m)
		if p, err := proto.ReadPlan(br); err != nil || p.Action != proto.ActionSend {
			t.Fatalf("plan %+v, %v", p, err)
		}
		d := (&proto.DataHeader{Index: 0, Length: 1}).Append(nil)
		d = append(d, 'x')
		d = (&proto.Trailer{}).Append(d)
		c.Write(append(d, proto.FinMagic[:]...))
		if err := <-done; err == nil || !strings.Contains(err.Error(), "dry run") {
			t.Errorf("receiver: %v; want data in a dry run refused", err)
		}
		if names, _ := os.ReadDir(dst); len(names) != 0 {
			t.Errorf("the dry run wrote %d entries", len(names))
		}
	})
}
