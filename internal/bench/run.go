package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/zcopy/zcopy/internal/bytesize"
	"github.com/zcopy/zcopy/internal/datagen"
	"github.com/zcopy/zcopy/zerocopy"
)

// receiverEnd starts the receiving side of trials: a worker on this host,
// or one on a Serve host.
type receiverEnd interface {
	// host describes the receiving host.
	host() HostInfo
	// localIP is this host's address on the link to the receiver.
	localIP() net.IP
	// tls reports whether the receiving end can run the TLS row.
	tls() bool
	// start starts a receiver for one trial and returns the address the
	// sender dials and a function that waits for the receiver's figures.
	// Cancelling ctx aborts the receiver.
	start(ctx context.Context, spec workerSpec) (addr string, wait func() (sideFigures, error), err error)
	close() error
}

// Run measures every method of cfg at every size and returns the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	sendCPU, recvCPU := -1, -1
	if cfg.To == "" && !cfg.NoPin {
		if s, r, ok := pinCPUs(); ok {
			sendCPU, recvCPU = s, r
		}
	}
	var end receiverEnd
	if cfg.To == "" {
		end = &localEnd{command: cfg.Command, env: cfg.Env, cpu: recvCPU}
	} else {
		r, err := dialServer(ctx, cfg.To)
		if err != nil {
			return nil, err
		}
		end = r
	}
	defer end.close()

	rep := &Report{
		Started:  time.Now(),
		Sender:   LocalHost(),
		Receiver: end.host(),
		Link:     "loopback",
		NIC:      nicFor(end.localIP()),
		Reps:     cfg.Reps,
		Warmup:   cfg.Warmup,
		Cold:     cfg.Cold,
	}
	if sendCPU >= 0 {
		rep.Pinned = fmt.Sprintf("sender on CPU %d, receiver on CPU %d", sendCPU, recvCPU)
	}
	if cfg.To != "" {
		rep.Link = cfg.To
	}
	if !end.tls() && slices.Contains(cfg.Methods, TLSRow) {
		cfg.Methods = slices.DeleteFunc(slices.Clone(cfg.Methods), func(r Row) bool { return r.TLS })
		rep.Notes = append(rep.Notes, fmt.Sprintf("The %s row was left out: the bench server at %s predates it (update zcopy there).", tlsName, cfg.To))
		if len(cfg.Methods) == 0 {
			return nil, fmt.Errorf("bench server %s: it cannot run the %s row (update zcopy there)", cfg.To, tlsName)
		}
	}
	dir, err := os.MkdirTemp(cfg.Dir, "zcopy-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	r := &runner{cfg: &cfg, end: end, dir: dir, gather: rep.NIC.Gather(), cpu: sendCPU}
	r.prog = newProgress(cfg.Progress, len(cfg.Sizes)*(cfg.Warmup+cfg.Reps)*len(cfg.Methods))
	defer r.prog.done()
	for _, size := range cfg.Sizes {
		res, err := r.size(ctx, size)
		if err != nil {
			return nil, err
		}
		rep.Results = append(rep.Results, res...)
	}
	rep.Auto = r.auto
	rep.Elapsed = time.Since(rep.Started)
	return rep, nil
}

// runner is the state of one Run.
type runner struct {
	cfg    *Config
	end    receiverEnd
	dir    string
	gather bool
	cpu    int // the sender's CPU, or -1
	prog   *progress
	// auto is the method zerocopy.Auto ran in probeAuto on the first
	// size's file; empty if the probe failed.
	auto string
}

// size measures every method at one size: it makes the file, runs the
// warm-up rounds, then the measured rounds with the methods' order rotating
// from round to round, and removes the file.
func (r *runner) size(ctx context.Context, size int64) ([]Result, error) {
	path := filepath.Join(r.dir, fmt.Sprintf("data-%d.bin", size))
	r.prog.status("making a %s file", bytesize.Format(size))
	if err := datagen.Generate(path, datagen.Options{Size: size, Seed: r.cfg.Seed}); err != nil {
		return nil, err
	}
	defer os.Remove(path)
	// Write it back now, so that writeback does not run during the trials.
	if err := syncFile(path); err != nil {
		return nil, err
	}
	if r.auto == "" {
		// A failed probe costs the report one sentence, not the run.
		r.auto, _ = probeAuto(ctx, path)
	}
	methods := r.cfg.Methods
	samples := make([][]Sample, len(methods))
	last := make([]sideFigures, len(methods))
	transfers := transfersFor(size)
	rounds := r.cfg.Warmup + r.cfg.Reps
	for round := range rounds {
		warm := round < r.cfg.Warmup
		for k := range methods {
			i := (k + round) % len(methods)
			label := fmt.Sprintf("%s %-9v round %d/%d", bytesize.Format(size), methods[i], round+1-r.cfg.Warmup, r.cfg.Reps)
			if warm {
				label = fmt.Sprintf("%s %-9v warm-up", bytesize.Format(size), methods[i])
			}
			r.prog.step(label)
			send, recv, cached, err := r.trial(ctx, path, methods[i], size, transfers)
			if err != nil {
				return nil, fmt.Errorf("%v, %s: %w", methods[i], bytesize.Format(size), err)
			}
			if !warm {
				samples[i] = append(samples[i], newSample(send, recv, cached))
				last[i] = send
			}
		}
	}
	out := make([]Result, len(methods))
	for i, m := range methods {
		out[i] = newResult(m, r.cfg, size, r.gather, samples[i], last[i])
	}
	return out, nil
}

// trial runs one sender against one receiver and returns both sides'
// figures and the fraction of the file that was cached at the start.
//
// A TLS trial (row.TLS) runs both workers with --tls: the sender sends by
// Auto into the TLS connection, as zcopy's sessions do (it falls to
// ReadWrite: a TLS connection has no descriptor), and the receiver reads
// it by ReadWrite, whatever Config.RecvMethod says (splice needs a
// descriptor too).
func (r *runner) trial(ctx context.Context, path string, row Row, size int64, transfers int) (send, recv sideFigures, cached float64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if r.cfg.Cold {
		if cached, err = evict(ctx, path); err != nil {
			return send, recv, 0, err
		}
	} else {
		cached = residency(path)
	}
	sendMethod, recvMethod := row.Method, r.cfg.RecvMethod
	if row.TLS {
		sendMethod, recvMethod = zerocopy.Auto, zerocopy.ReadWrite
	}
	addr, wait, err := r.end.start(ctx, workerSpec{
		role: "recv", method: recvMethod, size: size, transfers: transfers, tls: row.TLS, timeout: r.cfg.Timeout,
	})
	if err != nil {
		return send, recv, 0, err
	}
	sender, err := startChild(ctx, r.cfg.Command, r.cfg.Env, workerSpec{
		role: "send", method: sendMethod, size: size, transfers: transfers, file: path, to: addr, tls: row.TLS, timeout: r.cfg.Timeout,
	}, r.cpu)
	if err == nil {
		send, err = sender.wait()
	}
	if err != nil {
		cancel()
		wait()
		return send, recv, 0, err
	}
	if recv, err = wait(); err != nil {
		return send, recv, 0, err
	}
	if recv.BytesEach != size || recv.Transfers != transfers {
		return send, recv, 0, fmt.Errorf("the receiver got %d transfers of %d bytes, want %d of %d", recv.Transfers, recv.BytesEach, transfers, size)
	}
	if send.TLS != row.TLS || recv.TLS != row.TLS {
		return send, recv, 0, fmt.Errorf("TLS asked %v, the sender ran %v, the receiver %v", row.TLS, send.TLS, recv.TLS)
	}
	return send, recv, cached, nil
}

// localEnd runs receivers on this host, listening on loopback.
type localEnd struct {
	command, env []string
	cpu          int // the receivers' CPU, or -1
}

func (l *localEnd) host() HostInfo  { return LocalHost() }
func (l *localEnd) localIP() net.IP { return net.IPv4(127, 0, 0, 1) }
func (l *localEnd) close() error    { return nil }
func (l *localEnd) tls() bool       { return true }

func (l *localEnd) start(ctx context.Context, spec workerSpec) (string, func() (sideFigures, error), error) {
	spec.listen = "127.0.0.1:0"
	c, err := startChild(ctx, l.command, l.env, spec, l.cpu)
	if err != nil {
		return "", nil, err
	}
	addr, err := c.listenAddr()
	if err != nil {
		return "", nil, err
	}
	return addr, c.wait, nil
}
