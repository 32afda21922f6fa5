package director

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"encoding/json"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/status"
	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/ipvs"
	"io"
	"time"
)

// benchCluster is 1 000 services × 10 real servers; weight is the weight
// of service 7's fourth real server.
func benchCluster(b *testing.B, weight int) *conf.Cluster {
	var s strings.Builder
	s.WriteString("director {\n  static_vips = [\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&s, "    \"10.1.%d.%d\",\n", i/250, i%250+1)
	}
	s.WriteString("  ]\n}\nnode \"d1\" {}\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&s, "virtual_server \"vs%d\" {\n  address = \"10.1.%d.%d:80\"\n  scheduler = \"wrr\"\n", i, i/250, i%250+1)
		for j := 0; j < 10; j++ {
			w := 1
			if i == 7 && j == 3 {
				w = weight
			}
			fmt.Fprintf(&s, "  real_server \"rs%d\" {\n    address = \"192.168.%d.%d:8080\"\n    weight = %d\n  }\n", j, i%200, j+1, w)
		}
		s.WriteString("}\n")
	}
	c, diags := conf.Parse([]byte(s.String()), "bench.hcl")
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	return c
}

// BenchmarkReloadOneWeight is a reload's plan and apply (in-process, over
// the in-memory kernel) of one changed weight in 1 000 × 10.
func BenchmarkReloadOneWeight(b *testing.B) {
	c1, c2 := benchCluster(b, 1), benchCluster(b, 5)
	k := ipvs.NewMemKernel(nil)
	d := New(Config{NoIPVS: true})
	d.rec = ipvs.NewReconciler(k)
	defer d.rec.Close()
	ctx := context.Background()
	d.setConfig(c1, &c1.Nodes[0])
	if err := d.apply(ctx, d.desiredFrom(c1, nil), true); err != nil {
		b.Fatal(err)
	}
	d.setChecks(c1)
	cs := []*conf.Cluster{c2, c1}
	for i := 0; b.Loop(); i++ {
		c := cs[i%2]
		p := d.plan(c, &c.Nodes[0], "bench.hcl")
		if p.Writes != 1 {
			b.Fatalf("%d writes", p.Writes)
		}
		if err := d.applyPlan(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStatus is the status document of 1 000 services × 10 real
// servers from the in-memory kernel (in-process: the document only, and
// its JSON).
func BenchmarkStatus(b *testing.B) {
	c := benchCluster(b, 1)
	k := ipvs.NewMemKernel(nil)
	d := New(Config{NoIPVS: true})
	d.rec = ipvs.NewReconciler(k)
	defer d.rec.Close()
	ctx := context.Background()
	d.setConfig(c, &c.Nodes[0])
	if err := d.apply(ctx, d.desiredFrom(c, nil), true); err != nil {
		b.Fatal(err)
	}
	d.setChecks(c)
	d.publish()
	b.Run("document", func(b *testing.B) {
		for b.Loop() {
			if _, err := d.Status(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	st, _ := d.Status(ctx)
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(st)
		}
	})
	b.Run("text", func(b *testing.B) {
		for b.Loop() {
			status.Write(io.Discard, st, status.Conns, time.Now())
		}
	})
}
