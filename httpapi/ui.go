package httpapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The status page's map: Natural Earth land from the pinned world-atlas
// package, redrawn as ui/land.svg (see ui/gen).
//go:generate go run ./ui/gen -dir ui/gen -out ui/land.svg

// uiFiles are the status page: index.html and the assets it names. The
// generator (ui/gen) and the development fixture (ui/testdata) are not
// embedded.
//
//go:embed ui/index.html ui/app.js ui/app.css ui/land.svg
var uiFiles embed.FS

// uiAssets are the files index.html refers to, as "/ui/NAME" there.
var uiAssets = []string{"app.css", "app.js", "land.svg"}

// uiCSP is the status page's Content-Security-Policy: everything from
// this server and nothing else, no inline script or style, no plugins,
// no framing.
const uiCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// uiFile is one file of the status page as it is served: its body, the
// body gzipped (nil when that is not smaller), and its ETag.
type uiFile struct {
	ctype string
	body  []byte
	gz    []byte
	etag  string
}

// uiSite is the status page: index.html with the assets' hashed paths
// (/ui/app.0123456789ab.js) and the assets by those paths. A hashed path
// names one content for ever, so the assets are cached for a year; the
// page itself is revalidated on every load (no-cache, with its ETag).
type uiSite struct {
	index  *uiFile
	assets map[string]*uiFile // by URL path
}

var loadUI = sync.OnceValues(func() (*uiSite, error) {
	site := &uiSite{assets: map[string]*uiFile{}}
	page, err := uiFiles.ReadFile("ui/index.html")
	if err != nil {
		return nil, err
	}
	for _, name := range uiAssets {
		b, err := uiFiles.ReadFile("ui/" + name)
		if err != nil {
			return nil, err
		}
		f := newUIFile(name, b)
		ext := path.Ext(name)
		hashed := "/ui/" + strings.TrimSuffix(name, ext) + "." + f.etag[1:13] + ext
		ref := `"/ui/` + name + `"`
		if !bytes.Contains(page, []byte(ref)) {
			return nil, fmt.Errorf("ui/index.html does not refer to %s", ref)
		}
		page = bytes.ReplaceAll(page, []byte(ref), []byte(`"`+hashed+`"`))
		site.assets[hashed] = f
	}
	site.index = newUIFile("index.html", page)
	return site, nil
})

func newUIFile(name string, b []byte) *uiFile {
	sum := sha256.Sum256(b)
	f := &uiFile{ctype: mime.TypeByExtension(path.Ext(name)), body: b, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	if f.ctype == "" {
		f.ctype = "application/octet-stream"
	}
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression) // a valid level: no error
	_, _ = zw.Write(b)                                     // a bytes.Buffer does not fail
	if zw.Close() == nil && z.Len() < len(b) {
		f.gz = z.Bytes()
	}
	return f
}

// ui serves the status page on GET / (and HEAD): index.html at / and
// /index.html, its assets under /ui/. Every other path that reaches it
// is one that no route serves for GET, and is answered as the API
// answers one: 405 with Allow when the path has routes for other methods
// (mux's), 404 otherwise, both with an Error body.
func (a *API) ui(mux *http.ServeMux) http.Handler {
	site, err := loadUI()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err != nil { // a broken build: index.html does not name its assets
			writeError(w, http.StatusInternalServerError, "status page: "+err.Error())
			return
		}
		switch p := r.URL.Path; {
		case p == "/" || p == "/index.html":
			serveUIFile(w, r, site.index, "no-cache")
		case site.assets[p] != nil:
			serveUIFile(w, r, site.assets[p], "public, max-age=31536000, immutable")
		default:
			if allow := allowedMethods(mux, r); len(allow) > 0 {
				w.Header().Set("Allow", strings.Join(allow, ", "))
				writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: method not allowed (allowed: %s)", r.Method, p, strings.Join(allow, ", ")))
				return
			}
			writeError(w, http.StatusNotFound, fmt.Sprintf("no such path: %s", p))
		}
	})
}

// allowedMethods are the methods other than GET and HEAD that mux routes
// for r's path.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	if mux == nil {
		return nil
	}
	var out []string
	for _, m := range []string{http.MethodDelete, http.MethodPatch, http.MethodPost, http.MethodPut} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out
}

// serveUIFile answers with f: 304 when the client has it, gzipped when
// the client takes it.
func serveUIFile(w http.ResponseWriter, r *http.Request, f *uiFile, cacheControl string) {
	h := w.Header()
	h.Set("Content-Security-Policy", uiCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", f.etag)
	h.Set("Vary", "Accept-Encoding")
	if etagMatch(r.Header.Get("If-None-Match"), f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", f.ctype)
	body := f.body
	if f.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body = f.gz
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body) // the client went away; nothing to do
	}
}

// etagMatch reads If-None-Match: "*" or a list of (weak or strong) tags.
func etagMatch(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reads Accept-Encoding: gzip listed, and not with q=0.
func acceptsGzip(header string) bool {
	for e := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(e), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
