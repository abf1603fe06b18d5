package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/remote"
	"github.com/zcopy/zcopy/internal/testbin"
)

// sshd is a real OpenSSH server on 127.0.0.1 for the one-command form
// (issue 18), with its own configuration, host key and authorized key,
// all made by the test in a temporary directory.
type sshd struct {
	port int
	ssh  string // the --ssh value that reaches it: "ssh -p PORT -i KEY -o ..."
	argv []string
}

// startSSHD starts sshd as root on a free port of 127.0.0.1; it is
// stopped at the end of the test. Without sshd, ssh or ssh-keygen the
// test fails under CI=true and is skipped elsewhere.
func startSSHD(t *testing.T) *sshd {
	t.Helper()
	testbin.NeedRoot(t)
	bin := "/usr/sbin/sshd" // not on every PATH
	if _, err := os.Stat(bin); err != nil {
		bin = testbin.NeedTool(t, "sshd")
	}
	testbin.NeedTool(t, "ssh")
	keygen := testbin.NeedTool(t, "ssh-keygen")
	dir := t.TempDir()
	for _, k := range []string{"host", "client"} {
		if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "client.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	// sshd wants its privilege-separation directory, which the package
	// makes only when its service starts.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	port := testbin.FreePort(t)
	conf := fmt.Sprintf(`ListenAddress 127.0.0.1
Port %d
HostKey %[2]s/host
AuthorizedKeysFile %[2]s/authorized_keys
StrictModes no
UsePAM no
PidFile %[2]s/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
`, port, dir)
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testbin.Start(t, exec.Command(bin, "-D", "-e", "-f", filepath.Join(dir, "sshd_config")))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			c.Close()
			break
		}
		if !p.Running() || time.Now().After(deadline) {
			t.Fatalf("sshd did not start: %v\n%s", err, p.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s := &sshd{port: port}
	s.argv = []string{"ssh", "-p", strconv.Itoa(port), "-i", filepath.Join(dir, "client"),
		"-o", "UserKnownHostsFile=" + filepath.Join(dir, "known_hosts"),
		"-o", "StrictHostKeyChecking=accept-new", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"}
	s.ssh = strings.Join(s.argv, " ")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sshd's log:\n%s", p.Log())
		}
	})
	return s
}

// args are the flags that send or recv need to reach s with the zcopy
// under test as the far end.
func (s *sshd) args() []string {
	return []string{"--ssh", s.ssh, "--remote-zcopy", zcopyBin}
}

// noneLeft fails the test if a far zcopy (one started with --announce)
// or an ssh to s is still running a few seconds after a transfer ended.
func (s *sshd) noneLeft(t *testing.T) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left = left[:0]
		for _, cmd := range cmdlines(t) {
			if strings.Contains(cmd, "--announce") || strings.HasPrefix(cmd, "ssh -p "+strconv.Itoa(s.port)+" ") {
				left = append(left, cmd)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("still running after the transfer: %q", left)
	}
}

// cmdlines returns every process's command line, its arguments joined by
// spaces, as ps shows them to any user.
func cmdlines(t *testing.T) map[int]string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		out[pid] = strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " ")
	}
	return out
}

// sshTree makes a small tree under dir/name: two files, an empty file
// and a symlink in a subdirectory.
func sshTree(t *testing.T, dir, name string) string {
	t.Helper()
	root := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Join(root, "sub", "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	randomFile(t, root, "a.bin", 70_000)
	randomFile(t, filepath.Join(root, "sub", "deeper"), "b.bin", 3_000)
	if err := os.WriteFile(filepath.Join(root, "sub", "empty"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("deeper/b.bin", filepath.Join(root, "sub", "link")); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestSSH is the one-command form (issue 18) against a real sshd on
// loopback: `zcopy send PATH... HOST:DIR` and `zcopy recv HOST:PATH...
// DIR` start the far end over ssh, take its port and token from its
// announcement, move the data on their own connection (encrypted by
// default, zero copy with --plaintext at both ends, which the local end
// passes on), and leave nothing running.
func TestSSH(t *testing.T) {
	s := startSSHD(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			src := t.TempDir()
			file, data := randomFile(t, src, "one.bin", 4<<20) // large enough to be spliced, not batched
			tree := sshTree(t, src, "tree")

			t.Run("push", func(t *testing.T) {
				dst := filepath.Join(t.TempDir(), "new", "dir") // made by the far end
				args := append(m.args("send", s.args()...), "--json", file, tree, "127.0.0.1:"+dst)
				code, out, serr := run(t, args...)
				if code != 0 {
					t.Fatalf("send to 127.0.0.1:%s: exit %d\n%s", dst, code, serr)
				}
				sameFile(t, filepath.Join(dst, "one.bin"), data)
				sameTree(t, tree, filepath.Join(dst, "tree"))
				var res struct {
					Files  int    `json:"files"`
					Method string `json:"method"`
				}
				if err := json.Unmarshal([]byte(firstLine(out)), &res); err != nil {
					t.Fatalf("--json: %v: %q", err, out)
				}
				if want, _ := m.methods(); res.Files != 4 || res.Method != want {
					t.Errorf("sent %d files by %s, want 4 by %s", res.Files, res.Method, want)
				}
				s.noneLeft(t)
			})
			t.Run("pull", func(t *testing.T) {
				dst := filepath.Join(t.TempDir(), "pulled")
				args := append(m.args("recv", s.args()...), "--json", "127.0.0.1:"+file, "127.0.0.1:"+tree, dst)
				code, out, serr := run(t, args...)
				if code != 0 {
					t.Fatalf("recv from 127.0.0.1: exit %d\n%s", code, serr)
				}
				sameFile(t, filepath.Join(dst, "one.bin"), data)
				sameTree(t, tree, filepath.Join(dst, "tree"))
				var res struct {
					Method string `json:"method"`
				}
				json.Unmarshal([]byte(firstLine(out)), &res)
				if _, want := m.methods(); res.Method != want {
					t.Errorf("received by %s, want %s: %s", res.Method, want, out)
				}
				s.noneLeft(t)
			})
		})
	}

	src := t.TempDir()
	file, _ := randomFile(t, src, "f.bin", 1000)

	// The far end cannot make DIR (a file is in the way): its own message
	// reaches the user, prefixed with the host, and so does its status.
	t.Run("far-end-fails", func(t *testing.T) {
		dst := filepath.Join(file, "sub")
		code, _, serr := run(t, append(append([]string{"send"}, s.args()...), file, "127.0.0.1:"+dst)...)
		if code != 1 || !strings.Contains(serr, "127.0.0.1: zcopy recv: ") || !strings.Contains(serr, "not a directory") ||
			!strings.Contains(serr, "exited with status 1") {
			t.Errorf("send into a DIR under a file: exit %d, want 1 with the far end's message and status:\n%s", code, serr)
		}
		code, _, serr = run(t, append(append([]string{"recv"}, s.args()...), "127.0.0.1:"+filepath.Join(src, "missing"), t.TempDir())...)
		if code != 1 || !strings.Contains(serr, "127.0.0.1: zcopy send: ") || !strings.Contains(serr, "missing") {
			t.Errorf("recv of a missing far path: exit %d, want 1 with the far end's message:\n%s", code, serr)
		}
		s.noneLeft(t)
	})

	t.Run("far-zcopy-missing", func(t *testing.T) {
		code, _, serr := run(t, "send", "--ssh", s.ssh, "--remote-zcopy", "/nonexistent/zcopy", file, "127.0.0.1:"+t.TempDir())
		if code != 1 || !strings.Contains(serr, "--remote-zcopy") || !strings.Contains(serr, "127") {
			t.Errorf("a far zcopy that is not there: exit %d, want 1 and a hint at --remote-zcopy:\n%s", code, serr)
		}
	})

	// ssh cannot connect: its own message, and at once.
	t.Run("bad-host", func(t *testing.T) {
		// Port 1 (tcpmux): nobody listens there, and unlike a port freed
		// by the test, no listener of a test running beside it can take it.
		bad := strings.Replace(s.ssh, "-p "+strconv.Itoa(s.port), "-p 1", 1)
		began := time.Now()
		code, _, serr := run(t, "send", "--ssh", bad, "--remote-zcopy", zcopyBin, file, "127.0.0.1:"+t.TempDir())
		if took := time.Since(began); code != 1 || !strings.Contains(serr, "Connection refused") || !strings.Contains(serr, "exit status 255") || took > 10*time.Second {
			t.Errorf("ssh to a closed port: exit %d after %v, want 1 at once with ssh's message:\n%s", code, took, serr)
		}
	})

	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{
			{"send", "--token", "x", file, "127.0.0.1:d"},
			{"send", "--streams", "2", file, "127.0.0.1:d"},
			{"send", "127.0.0.1:" + file, "127.0.0.1:d"},
			{"recv", "127.0.0.1:a", "other:b", "dir"},
			{"recv", "127.0.0.1:", "dir"},
			{"send", "--ssh", "ssh", "--to", "127.0.0.1:1", file},
		} {
			if code, _, serr := run(t, args...); code != 2 {
				t.Errorf("zcopy %q: exit %d, want 2:\n%s", args, code, serr)
			}
		}
	})
}

// TestSSHFarEnd: the far end started over ssh shows no token on any
// command line (ps on either host), and ends when ssh goes away, so that
// an interrupted local side leaves nothing behind on the far one.
func TestSSHFarEnd(t *testing.T) {
	s := startSSHD(t)
	for _, verb := range []string{"recv", "send"} {
		t.Run(verb, func(t *testing.T) {
			far := []string{zcopyBin, verb, "--listen", ":0", "--announce", "-q"}
			if verb == "recv" {
				far = append(far, "--dir", t.TempDir())
			} else {
				far = append(far, zcopyBin)
			}
			cmd := exec.Command(s.argv[0], append(append(s.argv[1:], "127.0.0.1"), remote.Join(far))...)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var serr strings.Builder
			cmd.Stderr = &serr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				t.Fatalf("no announcement: %v; stderr: %s", err, serr.String())
			}
			var a remote.Announcement
			if err := json.Unmarshal([]byte(line), &a); err != nil || a.Port == 0 || len(a.Token) < 20 || a.Addr != "127.0.0.1" {
				t.Fatalf("announcement %q: %+v, %v", line, a, err)
			}
			farPID := 0
			for pid, c := range cmdlines(t) {
				if strings.Contains(c, a.Token) {
					t.Errorf("the token is on a command line: pid %d: %q", pid, c)
				}
				if strings.HasPrefix(c, zcopyBin+" "+verb+" --listen") {
					farPID = pid
				}
			}
			if farPID == 0 {
				t.Fatal("the far zcopy is not running")
			}
			// What a local zcopy killed outright does to its ssh: its
			// end of ssh's stdin closes. ssh passes that on and the far
			// end goes.
			stdin.Close()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("ssh still running 10 s after its stdin closed; stderr: %s", serr.String())
			}
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", farPID)); err != nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the far zcopy (pid %d) outlived ssh", farPID)
				}
			}
			s.noneLeft(t)
		})
	}
}

// TestSSHHelp: the help of send and recv leads with the one-command form
// (issue 18, acceptance 2).
func TestSSHHelp(t *testing.T) {
	for verb, form := range map[string]string{"send": "zcopy send PATH... [user@]HOST:DIR", "recv": "zcopy recv [user@]HOST:PATH... DIR"} {
		code, out, serr := run(t, verb, "--help")
		if code != 0 {
			t.Fatalf("%s --help: exit %d: %s", verb, code, serr)
		}
		lines := strings.Split(out, "\n")
		if !strings.HasPrefix(lines[0], "usage: "+form) || len(lines) < 5 || !strings.HasPrefix(strings.TrimSpace(lines[4]), "zcopy "+verb+" ") || !strings.Contains(lines[4], "host:") {
			t.Errorf("%s --help does not lead with %q and an example:\n%s", verb, form, strings.Join(lines[:min(8, len(lines))], "\n"))
		}
	}
}
