package httpserve

import (
	"bytes"
	"cmp"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/zcopy/zcopy/internal/bytesize"
)

// maxListing bounds the entries a directory listing shows, and so the
// memory one listing takes.
const maxListing = 10000

var listingTemplate = template.Must(template.New("listing").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Index of {{.Path}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:1em;line-height:1.4}
h1{font-size:1.3em;word-break:break-all}
table{border-collapse:collapse;width:100%;max-width:60em}
th,td{padding:.3em .6em;text-align:left;border-bottom:1px solid #ddd}
td.n,th.n{text-align:right;white-space:nowrap}
td.t{white-space:nowrap;color:#555}
td a{word-break:break-all}
@media (max-width:32em){td.t,th.t{display:none}}
</style></head>
<body><h1>Index of {{.Path}}</h1>
<table><tr><th>Name</th><th class="n">Size</th><th class="t">Modified</th></tr>
{{if ne .Path "/"}}<tr><td><a href="../">../</a></td><td class="n"></td><td class="t"></td></tr>
{{end}}{{range .Entries}}<tr><td><a href="{{.Href}}">{{.Name}}</a></td><td class="n">{{.Size}}</td><td class="t">{{.Modified}}</td></tr>
{{end}}</table>
{{if .More}}<p>The directory has more entries; {{.Shown}} are listed.</p>
{{end}}</body></html>
`))

type listingEntry struct {
	Name, Size, Modified string
	Href                 template.URL
	dir                  bool
}

// writeListing writes an HTML index of dir, named name under the root and
// urlPath in URLs: at most maxListing entries, directories first, each
// group sorted by name as people sort (case folded), times in UTC with
// their zone. Dotfiles are left out unless Config.Dotfiles, and so is a
// symbolic link that leads out of the root or nowhere (it could not be
// served).
//
// The page and, while it is built, the entries count against the listing
// memory budget (Config.ListingMemory, takeListing): past it, writeListing returns
// errListingBudget.
func (s *Server) writeListing(w *listingPage, urlPath, name string, dir *os.File) error {
	// The entries are read in batches, each counted before the next is
	// read: their names (twice, with the link) and the rest of a
	// listingEntry, as an estimate, given back once the page is made.
	var ents []fs.DirEntry
	scratch := int64(0)
	defer func() { s.giveListing(scratch) }()
	for len(ents) <= maxListing {
		batch, err := dir.ReadDir(min(listingBatch, maxListing+1-len(ents)))
		n := int64(0)
		for _, e := range batch {
			n += 2*int64(len(e.Name())) + 256
		}
		if !s.takeListing(n) {
			return errListingBudget
		}
		scratch += n
		ents = append(ents, batch...)
		if err == io.EOF || len(batch) == 0 {
			break
		}
		if err != nil {
			return err
		}
	}
	more := len(ents) > maxListing
	if more {
		ents = ents[:maxListing]
	}
	data := struct {
		Path    string
		Entries []listingEntry
		More    bool
		Shown   int
	}{Path: urlPath, More: more}
	for _, e := range ents {
		n := e.Name()
		if !s.cfg.Dotfiles && strings.HasPrefix(n, ".") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // gone since it was read
		}
		isDir := e.IsDir()
		if info.Mode()&fs.ModeSymlink != 0 {
			target, err := s.root.Stat(path.Join(name, n))
			if err != nil {
				continue // out of the root, or dangling
			}
			if !s.cfg.Dotfiles && leadsToDotfile(s.root, path.Join(name, n)) {
				continue // served as 404 (fileCache.fill)
			}
			info, isDir = target, target.IsDir()
		}
		le := listingEntry{Name: n, dir: isDir, Modified: info.ModTime().UTC().Format("2006-01-02 15:04:05 MST")}
		if info.Mode().IsRegular() {
			le.Size = bytesize.Format(info.Size())
		}
		if isDir {
			le.Name += "/"
		}
		// url.URL escapes what a path needs (and prefixes "./" to a first
		// segment with a colon); the template escapes for the attribute.
		le.Href = template.URL((&url.URL{Path: le.Name}).String())
		data.Entries = append(data.Entries, le)
	}
	slices.SortFunc(data.Entries, func(a, b listingEntry) int {
		if a.dir != b.dir {
			if a.dir {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.Name, b.Name))
	})
	data.Shown = len(data.Entries)
	if err := listingTemplate.Execute(w, data); err != nil {
		return err
	}
	w.trim()
	return nil
}

// listingBatch is how many entries a listing reads at a time, counting
// each batch against the listing memory budget before it reads the next.
const listingBatch = 256

// errListingBudget: a listing would pass the listing memory budget.
var errListingBudget = errors.New("the listing memory budget is spent")

// listingPage is a listing's page being built, its capacity counted
// against the listing memory budget from the moment it is allocated until
// free.
type listingPage struct {
	s       *Server
	b       []byte
	charged int64
}

// Write appends p, growing the page only as far as the budget allows.
func (p *listingPage) Write(b []byte) (int, error) {
	if len(p.b)+len(b) > cap(p.b) {
		n := max(2*cap(p.b), len(p.b)+len(b), 4<<10)
		if !p.s.takeListing(int64(n - cap(p.b))) {
			return 0, errListingBudget
		}
		p.charged += int64(n - cap(p.b))
		nb := make([]byte, len(p.b), n)
		copy(nb, p.b)
		p.b = nb
	}
	p.b = append(p.b, b...)
	return len(b), nil
}

// trim gives back the room the page grew into and did not fill, when it is
// worth a copy and the budget has room for the copy.
func (p *listingPage) trim() {
	if extra := cap(p.b) - len(p.b); extra <= len(p.b)/8 || !p.s.takeListing(int64(len(p.b))) {
		return
	}
	old := p.charged
	p.b = slices.Clone(p.b)
	p.charged = int64(len(p.b))
	p.s.giveListing(old)
}

// free gives the page's memory back to the budget; the page is not used
// after.
func (p *listingPage) free() {
	p.s.giveListing(p.charged)
	p.charged = 0
	p.b = nil
}

// takeListing counts n more bytes of listing pages, if the budget
// (Config.ListingMemory) has room for them.
func (s *Server) takeListing(n int64) bool {
	for {
		used := s.listingUsed.Load()
		if s.listingLimit > 0 && used+n > s.listingLimit {
			return false
		}
		if s.listingUsed.CompareAndSwap(used, used+n) {
			s.metrics.listingBytes.Add(float64(n))
			return true
		}
	}
}

// giveListing gives back n bytes taken by takeListing.
func (s *Server) giveListing(n int64) {
	if n != 0 {
		s.listingUsed.Add(-n)
		s.metrics.listingBytes.Sub(float64(n))
	}
}

// listingRefused answers a listing refused for lack of memory: 503, to be
// tried again in a moment, when the pages held have been read. It warns at
// most once a second.
func (s *Server) listingRefused(q *request) *answer {
	s.metrics.listingRefused.Inc()
	s.log.Debug("directory listing refused: the listing memory budget is spent", "path", q.path, "remote", q.remoteAddr())
	now := time.Now().UnixNano()
	if last := s.listingLog.Load(); now-last >= int64(time.Second) && s.listingLog.CompareAndSwap(last, now) {
		s.log.Warn("directory listings refused with 503: pages being built or waiting for slow clients hold the listing memory budget",
			"listing_memory", s.listingLimit, "path", q.path)
	}
	a := errorAnswer(http.StatusServiceUnavailable, "service unavailable: too many directory listings in progress")
	a.fields = append(a.fields, field{"Retry-After", "1"})
	return a
}

// pageBody is a listing page as fasthttp's body stream: the page counts
// against the budget until fasthttp closes the stream, once the body is
// written or its writing failed.
type pageBody struct {
	bytes.Reader
	page *listingPage
}

func (b *pageBody) Close() error {
	b.page.free()
	return nil
}
