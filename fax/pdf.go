package fax

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"sync"
)

// pdfImage is one image XObject of a page and where it goes, in the page's
// pixel rows (a page of several G4 strips has one image per strip).
type pdfImage struct {
	dict string // the stream dictionary without /Length
	data []byte
	// row and rows place the image on the page, in image rows from the top.
	row, rows int
}

type pdfPage struct {
	// width and height in points.
	width, height float64
	// pageRows is the page's height in image rows, for placing strips.
	pageRows int
	images   []pdfImage
}

// paper sizes, in points, that a fax page is snapped to.
var papers = []struct {
	name string
	w, h float64
}{
	{"A4", 595.2756, 841.8898},
	{"Letter", 612, 792},
	{"B4", 728.5039, 1031.8110},
	{"A3", 841.8898, 1190.5512},
}

// pageSize is the size in points of a page of w×h pixels at xres×yres dpi.
// The size comes from the resolution, not from the pixel count: a standard
// (98 dpi) page is as tall as a fine (196 dpi) one.
//
// A fax scan line is 215 mm (ITU-T T.4: 1728 pixels), 2.4 % wider than the
// A4 sheet it was scanned from. When the page is within 3 % of a standard
// paper size in both directions it is snapped to that paper and the image
// fills it, so that it prints at 100 % on the paper it came from.
func pageSize(w, h int, xres, yres float64) (float64, float64) {
	if xres <= 0 && yres <= 0 {
		// No resolution: a fax width means fax resolution, else 72 dpi.
		xres, yres = 72, 72
		if w == 1728 || w == 2048 || w == 2432 {
			xres = 204
			yres = 196
			if float64(h)/float64(w) < 0.9 { // a standard-resolution A4 page is 1728×1143
				yres = 98
			}
		}
	}
	if xres <= 0 {
		xres = yres
	}
	if yres <= 0 {
		yres = xres
	}
	pw, ph := float64(w)/xres*72, float64(h)/yres*72
	for _, p := range papers {
		if math.Abs(pw/p.w-1) <= 0.03 && math.Abs(ph/p.h-1) <= 0.03 {
			return p.w, p.h
		}
	}
	return pw, ph
}

// writePDF renders pages into one PDF file. The output depends only on its
// input (no dates, no random ids), so that converting a fax twice gives the
// same bytes.
func writePDF(pages []pdfPage) []byte {
	size := 1024
	for _, p := range pages {
		for _, im := range p.images {
			size += len(im.data) + len(im.dict) + 200
		}
	}
	w := &pdfWriter{}
	w.buf.Grow(size)
	w.buf.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	// 1: catalog, 2: page tree, then each page's objects in order.
	next := 3
	var kids []int
	for _, p := range pages {
		pageObj, contentObj := next, next+1
		next += 2
		imgObjs := make([]int, len(p.images))
		for i := range p.images {
			imgObjs[i] = next
			next++
		}
		kids = append(kids, pageObj)
		var res, content bytes.Buffer
		res.WriteString("/XObject <<")
		for i, im := range p.images {
			fmt.Fprintf(&res, " /Im%d %d 0 R", i+1, imgObjs[i])
			// The image is scaled to its place: full page width, its share
			// of the page's height.
			h := p.height * float64(im.rows) / float64(p.pageRows)
			y := p.height * float64(p.pageRows-im.row-im.rows) / float64(p.pageRows)
			fmt.Fprintf(&content, "q %s 0 0 %s 0 %s cm /Im%d Do Q\n", num(p.width), num(h), num(y), i+1)
		}
		res.WriteString(" >>")
		w.object(pageObj, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Resources << %s /ProcSet [/PDF /ImageB /ImageC /ImageI] >> /Contents %d 0 R >>",
			num(p.width), num(p.height), res.String(), contentObj))
		w.stream(contentObj, "", content.Bytes())
		for i, im := range p.images {
			w.stream(imgObjs[i], im.dict, im.data)
		}
	}
	var kidList bytes.Buffer
	for i, k := range kids {
		if i > 0 {
			kidList.WriteByte(' ')
		}
		fmt.Fprintf(&kidList, "%d 0 R", k)
	}
	w.object(1, "<< /Type /Catalog /Pages 2 0 R >>")
	w.object(2, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", kidList.String(), len(kids)))
	w.finish(next)
	return w.buf.Bytes()
}

// num formats a coordinate with at most 4 decimals, as tiff2pdf does.
func num(f float64) string {
	return strconv.FormatFloat(math.Round(f*10000)/10000, 'f', -1, 64)
}

type pdfWriter struct {
	buf     bytes.Buffer
	offsets map[int]int
}

func (w *pdfWriter) object(n int, body string) {
	w.mark(n)
	fmt.Fprintf(&w.buf, "%d 0 obj\n%s\nendobj\n", n, body)
}

func (w *pdfWriter) stream(n int, dict string, data []byte) {
	w.mark(n)
	fmt.Fprintf(&w.buf, "%d 0 obj\n<< %s /Length %d >>\nstream\n", n, dict, len(data))
	w.buf.Write(data)
	w.buf.WriteString("\nendstream\nendobj\n")
}

func (w *pdfWriter) mark(n int) {
	if w.offsets == nil {
		w.offsets = map[int]int{}
	}
	w.offsets[n] = w.buf.Len()
}

func (w *pdfWriter) finish(size int) {
	xref := w.buf.Len()
	fmt.Fprintf(&w.buf, "xref\n0 %d\n0000000000 65535 f \n", size)
	for n := 1; n < size; n++ {
		fmt.Fprintf(&w.buf, "%010d 00000 n \n", w.offsets[n])
	}
	fmt.Fprintf(&w.buf, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", size, xref)
}

// ccittParams describes CCITT data for the CCITTFaxDecode filter.
type ccittParams struct {
	k           int // <0 G4, 0 G3 1-D, >0 G3 2-D
	columns     int
	rows        int
	byteAlign   bool
	endOfLine   bool
	blackIs1    bool
	damagedRows int
}

func (c ccittParams) dict() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<< /K %d /Columns %d /Rows %d", c.k, c.columns, c.rows)
	if c.byteAlign {
		b.WriteString(" /EncodedByteAlign true")
	}
	if c.endOfLine {
		b.WriteString(" /EndOfLine true")
	}
	if c.blackIs1 {
		b.WriteString(" /BlackIs1 true")
	}
	if c.damagedRows > 0 {
		fmt.Fprintf(&b, " /DamagedRowsBeforeError %d", c.damagedRows)
	}
	b.WriteString(" >>")
	return b.String()
}

// ccittImage is a 1-bit CCITT image, with Flate on top of the CCITT data
// when that makes it smaller.
func ccittImage(width, rows int, c ccittParams, data []byte) pdfImage {
	head := fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /BitsPerComponent 1 /ColorSpace /DeviceGray", width, rows)
	if z, ok := deflateIfSmaller(data); ok {
		return pdfImage{dict: head + " /Filter [/FlateDecode /CCITTFaxDecode] /DecodeParms [null " + c.dict() + "]", data: z, rows: rows}
	}
	return pdfImage{dict: head + " /Filter /CCITTFaxDecode /DecodeParms " + c.dict(), data: data, rows: rows}
}

// zlibWriters compress at level 2: on fax pages it finds nearly all that
// the default level finds (bench/fax: within 4 % in size) at about 1.3×
// its speed; level 1 (BestSpeed) misses most of the redundancy of G4 data.
var zlibWriters = sync.Pool{New: func() any {
	w, _ := zlib.NewWriterLevel(nil, 2)
	return w
}}

// deflateIfSmaller compresses data losslessly with zlib, for the
// FlateDecode filter. CCITT-coded fax pages still hold much redundancy
// (blank lines, EOL padding, repeated glyph rows); Flate takes it out
// without decoding the image. It reports false when that does not save at
// least a tenth.
func deflateIfSmaller(data []byte) ([]byte, bool) {
	var buf bytes.Buffer
	buf.Grow(len(data) / 2)
	zw := zlibWriters.Get().(*zlib.Writer)
	defer zlibWriters.Put(zw)
	zw.Reset(&buf)
	if _, err := zw.Write(data); err != nil {
		return nil, false
	}
	if err := zw.Close(); err != nil {
		return nil, false
	}
	if buf.Len() > len(data)*9/10 {
		return nil, false
	}
	return buf.Bytes(), true
}

// reverseBits returns data with the bits of each byte reversed: TIFF
// FillOrder 2 (LSB first) to the MSB-first order PDF filters read.
func reverseBits(data []byte) []byte {
	out := make([]byte, len(data))
	for i, b := range data {
		out[i] = bits.Reverse8(b)
	}
	return out
}
