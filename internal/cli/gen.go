package cli

import (
	"fmt"
	"time"

	"github.com/zcopy/zcopy/internal/bytesize"
	"github.com/zcopy/zcopy/internal/datagen"
)

func init() {
	register(&command{
		name:     "gen",
		order:    10,
		synopsis: "gen PATH --size SIZE [--sparse] [--seed N]",
		summary:  "make a test file of random bytes (the seed's data.bin), or a sparse file",
		help: `Gen writes a file of SIZE random bytes at PATH, from a seeded ChaCha8 stream
(the same seed gives the same bytes), or with --sparse a file of zeros that
takes no disk space. SIZE is bytes, or a number with a unit: KiB, MiB, GiB,
TiB (powers of 1024) or KB, MB, GB, TB (powers of 1000). The file appears
under PATH only when it is complete.`,
		run: runGen,
	})
}

func runGen(e *env, args []string) int {
	c := commands["gen"]
	fs := newFlagSet(c.name)
	var size bytesize.Value = -1
	fs.Var(&size, "size", "the file's `SIZE`, e.g. 64MiB (required)")
	sparse := fs.Bool("sparse", false, "make a sparse file of zeros instead of random bytes")
	seed := fs.Uint64("seed", 1, "the random stream's `seed`")
	pos, code, ok := parse(e, c, fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageError(e, c, "want one PATH, got %d arguments", len(pos))
	}
	if size < 0 {
		return usageError(e, c, "--size is required")
	}
	start := time.Now()
	if err := datagen.Generate(pos[0], datagen.Options{Size: int64(size), Sparse: *sparse, Seed: *seed}); err != nil {
		return fail(e, c, err)
	}
	kind := "random"
	if *sparse {
		kind = "sparse"
	}
	fmt.Fprintf(e.stderr, "zcopy gen: wrote %s (%s, %s) in %.2f s\n", pos[0], bytesize.Format(int64(size)), kind, time.Since(start).Seconds())
	return exitOK
}
