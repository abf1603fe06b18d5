package httpserve

import (
	"cmp"
	"html/template"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"

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
func (s *Server) writeListing(w io.Writer, urlPath, name string, dir *os.File) error {
	ents, err := dir.ReadDir(maxListing + 1)
	if err != nil && err != io.EOF {
		return err
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
	return listingTemplate.Execute(w, data)
}
