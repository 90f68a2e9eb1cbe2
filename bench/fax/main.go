// Command fax measures fax → PDF conversion in pages per second, beside
// libtiff's tiff2pdf on the same files in the same run, and compares the
// output sizes.
//
//	go run ./bench/fax [-dir DIR] [-duration 2s]
//
// The files are the real fax TIFFs of ../shared/testdata/fax when the
// checkout has them (or -dir), else faxes Ghostscript makes from
// fax/testdata/fax.ps. Hotline converts in-process, as the gateway does;
// tiff2pdf runs as the command a gateway would call. Both sides run on one
// core, one file at a time.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/hotline-desk/hotline/fax"
)

func main() {
	dir := flag.String("dir", "", "`DIR` of fax TIFFs (default ../shared/testdata/fax, or made with Ghostscript)")
	duration := flag.Duration("duration", 2*time.Second, "how long each side converts each file")
	flag.Parse()
	runtime.GOMAXPROCS(1)
	tiff2pdf, err := exec.LookPath("tiff2pdf")
	must(err, "tiff2pdf (Debian libtiff-tools) is needed as the reference")
	files := inputs(*dir)
	tmp, err := os.MkdirTemp("", "bench-fax-")
	must(err, "temp dir")
	defer os.RemoveAll(tmp)

	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "file\tpages\thotline pages/s\ttiff2pdf pages/s\tspeed ratio\thotline bytes\ttiff2pdf bytes\tsize ratio\t\n")
	var totPages, totMine, totRef float64
	var totMineBytes, totRefBytes int
	for _, f := range files {
		data, err := os.ReadFile(f)
		must(err, f)
		conv, err := fax.Convert(data, fax.DefaultLimits)
		must(err, f)
		// Hotline, in-process.
		n, start := 0, time.Now()
		for time.Since(start) < *duration {
			if _, err := fax.Convert(data, fax.DefaultLimits); err != nil {
				must(err, f)
			}
			n++
		}
		mine := float64(n*conv.Pages) / time.Since(start).Seconds()
		// tiff2pdf, as a command.
		out := filepath.Join(tmp, "ref.pdf")
		n, start = 0, time.Now()
		for time.Since(start) < *duration {
			if b, err := exec.Command(tiff2pdf, "-o", out, f).CombinedOutput(); err != nil {
				must(fmt.Errorf("%v: %s", err, b), "tiff2pdf "+f)
			}
			n++
		}
		ref := float64(n*conv.Pages) / time.Since(start).Seconds()
		fi, err := os.Stat(out)
		must(err, out)
		refBytes := int(fi.Size())
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%.1f×\t%d\t%d\t%.2f\t\n", filepath.Base(f), conv.Pages, mine, ref, mine/ref,
			len(conv.PDF), refBytes, float64(len(conv.PDF))/float64(refBytes))
		totPages += float64(conv.Pages)
		// Time per page summed over files, so that every file weighs by its
		// pages.
		totMine += float64(conv.Pages) / mine
		totRef += float64(conv.Pages) / ref
		totMineBytes += len(conv.PDF)
		totRefBytes += refBytes
	}
	fmt.Fprintf(tw, "all\t%.0f\t%.0f\t%.0f\t%.1f×\t%d\t%d\t%.2f\t\n", totPages, totPages/totMine, totPages/totRef, totRef/totMine,
		totMineBytes, totRefBytes, float64(totMineBytes)/float64(totRefBytes))
	tw.Flush()
	fmt.Printf("\ntarget: speed ratio ≥ 2× and size ratio ≤ 1.00 (hotline's PDF no larger than tiff2pdf's)\n")
}

// inputs lists the TIFFs to convert.
func inputs(dir string) []string {
	if dir == "" {
		if _, err := os.Stat(filepath.Join("..", "shared", "testdata", "fax")); err == nil {
			dir = filepath.Join("..", "shared", "testdata", "fax")
		}
	}
	if dir != "" {
		files, err := filepath.Glob(filepath.Join(dir, "*.tif"))
		must(err, dir)
		if len(files) == 0 {
			must(fmt.Errorf("no *.tif"), dir)
		}
		sort.Strings(files)
		return files
	}
	gs, err := exec.LookPath("gs")
	must(err, "no ../shared/testdata/fax and no Ghostscript to make faxes")
	tmp, err := os.MkdirTemp("", "bench-fax-gs-")
	must(err, "temp dir")
	var files []string
	for _, d := range []struct{ device, res string }{{"tiffg3", "204x98"}, {"tiffg3", "204x196"}, {"tiffg32d", "204x98"}, {"tiffg4", "204x98"}, {"tiffg4", "204x196"}} {
		out := filepath.Join(tmp, d.device+"-"+d.res+".tif")
		b, err := exec.Command(gs, "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE="+d.device, "-r"+d.res, "-sPAPERSIZE=a4",
			"-sOutputFile="+out, filepath.Join("fax", "testdata", "fax.ps")).CombinedOutput()
		must(err, string(b))
		files = append(files, out)
	}
	return files
}

func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench/fax: %s: %v\n", what, err)
		os.Exit(1)
	}
}
