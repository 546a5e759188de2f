// Command gen makes the status page's map, httpapi/ui/land.svg: the land
// of Natural Earth's 1:110m physical vectors (public domain), as the npm
// package world-atlas (ISC) ships it in TopoJSON (land-110m.json), drawn
// as one SVG path in the equirectangular projection: x = (lon+180)*10,
// y = (90-lat)*10, in a 3600 x 1800 box, rounded to 0.1 degree.
//
// The package's version is pinned by package.json and package-lock.json
// beside this file (with its integrity hash). Run from httpapi:
//
//	go generate ./httpapi
//
// which runs `npm ci` in a temporary directory (nothing is left in the
// tree) and rewrites ui/land.svg. -src reads a land-110m.json already at
// hand instead. Nothing of this runs when the server does: the SVG is
// committed and embedded in the binary.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// topology is the part of a TopoJSON topology that land-110m.json uses:
// quantized, delta-encoded arcs and one object of (multi)polygons.
type topology struct {
	Type      string                     `json:"type"`
	Transform *transform                 `json:"transform"`
	Arcs      [][][2]float64             `json:"arcs"`
	Objects   map[string]json.RawMessage `json:"objects"`
}

type transform struct {
	Scale     [2]float64 `json:"scale"`
	Translate [2]float64 `json:"translate"`
}

type geometry struct {
	Type       string          `json:"type"`
	Arcs       json.RawMessage `json:"arcs"`
	Geometries []geometry      `json:"geometries"`
}

func main() {
	src := flag.String("src", "", "land-110m.json to read (default: npm ci of package-lock.json in a temporary directory)")
	out := flag.String("out", "land.svg", "the SVG to write")
	dir := flag.String("dir", "gen", "the directory of package.json and package-lock.json")
	flag.Parse()
	if err := run(*src, *out, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(src, out, dir string) error {
	version := "(given with -src)"
	if src == "" {
		tmp, err := os.MkdirTemp("", "meridian-map-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		for _, f := range []string{"package.json", "package-lock.json"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
				return err
			}
		}
		cmd := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
		cmd.Dir, cmd.Stdout, cmd.Stderr = tmp, os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("npm ci: %w", err)
		}
		pkg := filepath.Join(tmp, "node_modules", "world-atlas")
		var meta struct{ Version string }
		if b, err := os.ReadFile(filepath.Join(pkg, "package.json")); err != nil {
			return err
		} else if err := json.Unmarshal(b, &meta); err != nil {
			return err
		}
		version = meta.Version
		src = filepath.Join(pkg, "land-110m.json")
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	d, rings, err := landPath(b)
	if err != nil {
		return err
	}
	var svg bytes.Buffer
	fmt.Fprintf(&svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 3600 1800\">\n")
	fmt.Fprintf(&svg, "<!-- Natural Earth 1:110m land (public domain), from the npm package world-atlas %s (land-110m.json, ISC),\n", version)
	fmt.Fprintf(&svg, "     equirectangular: x = (lon+180)*10, y = (90-lat)*10; %d rings. Made by httpapi/ui/gen: go generate ./httpapi -->\n", rings)
	fmt.Fprintf(&svg, "<path id=\"land\" d=\"%s\"/>\n</svg>\n", d)
	return os.WriteFile(out, svg.Bytes(), 0o644)
}

// landPath decodes the topology's single object into an SVG path: one
// subpath per ring, relative moves in tenths of a degree, points that
// round to the previous one dropped.
func landPath(raw []byte) (string, int, error) {
	var topo topology
	if err := json.Unmarshal(raw, &topo); err != nil {
		return "", 0, err
	}
	if topo.Type != "Topology" || topo.Transform == nil || len(topo.Objects) != 1 {
		return "", 0, errors.New("want a quantized Topology with one object")
	}
	arcs := make([][][2]float64, len(topo.Arcs))
	for i, arc := range topo.Arcs {
		var x, y float64
		pts := make([][2]float64, len(arc))
		for j, p := range arc {
			x, y = x+p[0], y+p[1]
			pts[j] = [2]float64{x*topo.Transform.Scale[0] + topo.Transform.Translate[0], y*topo.Transform.Scale[1] + topo.Transform.Translate[1]}
		}
		arcs[i] = pts
	}
	var polys [][][]int // polygon, ring, arc indexes
	var collect func(g geometry) error
	collect = func(g geometry) error {
		switch g.Type {
		case "GeometryCollection":
			for _, c := range g.Geometries {
				if err := collect(c); err != nil {
					return err
				}
			}
		case "Polygon":
			var p [][]int
			if err := json.Unmarshal(g.Arcs, &p); err != nil {
				return err
			}
			polys = append(polys, p)
		case "MultiPolygon":
			var mp [][][]int
			if err := json.Unmarshal(g.Arcs, &mp); err != nil {
				return err
			}
			polys = append(polys, mp...)
		default:
			return fmt.Errorf("geometry type %q: want polygons", g.Type)
		}
		return nil
	}
	for _, o := range topo.Objects {
		var g geometry
		if err := json.Unmarshal(o, &g); err != nil {
			return "", 0, err
		}
		if err := collect(g); err != nil {
			return "", 0, err
		}
	}
	var b strings.Builder
	rings := 0
	for _, poly := range polys {
		for _, ring := range poly {
			for _, pts := range wrapRing(ringPoints(arcs, ring)) {
				if drawRing(&b, pts) {
					rings++
				}
			}
		}
	}
	return b.String(), rings, nil
}

// drawRing writes one ring as a subpath; false when it has too few
// distinct points to draw.
func drawRing(b *strings.Builder, pts [][2]float64) bool {
	if len(pts) < 4 {
		return false
	}
	first := true
	var n int
	var lx, ly int
	for _, p := range pts {
		x, y := int(math.Round((p[0]+180)*10)), int(math.Round((90-p[1])*10))
		if first {
			b.WriteString("M" + strconv.Itoa(x) + " " + strconv.Itoa(y))
			lx, ly, first = x, y, false
			continue
		}
		if x == lx && y == ly {
			continue
		}
		if n == 0 {
			b.WriteString("l")
		} else if x-lx >= 0 {
			b.WriteString(" ")
		}
		b.WriteString(strconv.Itoa(x - lx))
		if y-ly >= 0 {
			b.WriteString(" ")
		}
		b.WriteString(strconv.Itoa(y - ly))
		lx, ly = x, y
		n++
	}
	if n < 2 {
		return false // b holds a bare moveto: harmless, but count only rings drawn
	}
	b.WriteString("z")
	return true
}

// wrapRing makes a ring drawable in the plane: the longitudes are
// unwrapped where the ring crosses the antimeridian (a jump of more than
// 180 degrees), a ring around a pole (Antarctica) is closed along the
// pole, and a ring that then reaches past 180 (or -180) is drawn a second
// time 360 degrees over, the map's edge clipping both halves.
func wrapRing(pts [][2]float64) [][][2]float64 {
	if len(pts) == 0 {
		return nil
	}
	out := make([][2]float64, len(pts))
	out[0] = pts[0]
	minLon, maxLon, sumLat := pts[0][0], pts[0][0], 0.0
	for i := 1; i < len(pts); i++ {
		lon, prev := pts[i][0], out[i-1][0]
		for lon-prev > 180 {
			lon -= 360
		}
		for lon-prev < -180 {
			lon += 360
		}
		out[i] = [2]float64{lon, pts[i][1]}
		minLon, maxLon, sumLat = math.Min(minLon, lon), math.Max(maxLon, lon), sumLat+pts[i][1]
	}
	if net := out[len(out)-1][0] - out[0][0]; math.Abs(net) > 180 {
		pole := 90.0
		if sumLat < 0 {
			pole = -90
		}
		out = append(out, [2]float64{out[len(out)-1][0], pole}, [2]float64{out[0][0], pole}, out[0])
	}
	rings := [][][2]float64{out}
	for _, shift := range []float64{-360, 360} {
		if (shift < 0 && maxLon > 180) || (shift > 0 && minLon < -180) {
			moved := make([][2]float64, len(out))
			for i, p := range out {
				moved[i] = [2]float64{p[0] + shift, p[1]}
			}
			rings = append(rings, moved)
		}
	}
	return rings
}

// ringPoints joins a ring's arcs (a negative index ~i is arc i reversed),
// each arc's first point being the previous arc's last.
func ringPoints(arcs [][][2]float64, ring []int) [][2]float64 {
	var pts [][2]float64
	for k, i := range ring {
		var a [][2]float64
		if i < 0 {
			src := arcs[^i]
			a = make([][2]float64, len(src))
			for j := range src {
				a[j] = src[len(src)-1-j]
			}
		} else {
			a = arcs[i]
		}
		if k > 0 && len(a) > 0 {
			a = a[1:]
		}
		pts = append(pts, a...)
	}
	return pts
}
