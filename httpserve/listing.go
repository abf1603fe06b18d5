package httpserve

import (
	"cmp"
	"html/template"
	"io"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/zcopy/zcopy/internal/bytesize"
)

// maxListing bounds the entries a directory listing shows, and so the
// memory one listing takes.
const maxListing = 10000

var listingTemplate = template.Must(template.New("listing").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Index of {{.Path}}</title>
<style>body{font-family:sans-serif}td{padding:0 1em}td.n{text-align:right}</style></head>
<body><h1>Index of {{.Path}}</h1>
<table><tr><th>Name</th><th>Size</th><th>Modified</th></tr>
{{if ne .Path "/"}}<tr><td><a href="../">../</a></td><td></td><td></td></tr>
{{end}}{{range .Entries}}<tr><td><a href="{{.Href}}">{{.Name}}</a></td><td class="n">{{.Size}}</td><td>{{.Modified}}</td></tr>
{{end}}</table>
{{if .More}}<p>The directory has more entries; {{.Shown}} are listed.</p>
{{end}}</body></html>
`))

type listingEntry struct {
	Name, Size, Modified string
	Href                 template.URL
}

// writeListing writes an HTML index of dir, whose URL path is urlPath,
// sorted by name, at most maxListing entries.
func writeListing(w io.Writer, urlPath string, dir *os.File) error {
	ents, err := dir.ReadDir(maxListing + 1)
	if err != nil && err != io.EOF {
		return err
	}
	more := len(ents) > maxListing
	if more {
		ents = ents[:maxListing]
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return cmp.Compare(a.Name(), b.Name()) })
	data := struct {
		Path    string
		Entries []listingEntry
		More    bool
		Shown   int
	}{Path: urlPath, More: more, Shown: len(ents)}
	for _, e := range ents {
		name := e.Name()
		le := listingEntry{Name: name}
		if info, err := e.Info(); err == nil {
			le.Modified = info.ModTime().UTC().Format(time.DateTime)
			if info.Mode().IsRegular() {
				le.Size = bytesize.Format(info.Size())
			}
		}
		if e.IsDir() {
			name += "/"
			le.Name = name
		}
		// url.URL escapes what a path needs (and prefixes "./" to a first
		// segment with a colon); the template escapes for the attribute.
		le.Href = template.URL((&url.URL{Path: name}).String())
		data.Entries = append(data.Entries, le)
	}
	return listingTemplate.Execute(w, data)
}
