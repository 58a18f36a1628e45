package main

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"custsync/bench"
)

// logins: issue 16's figure. A tenant migration of customers with their passwords goes through the bulk import
// endpoint (up to 200 customers a request); the same customers written one by one (a create per customer, and
// the account flags active/onHold, which the data set always sets, in a PATCH after it) cost requests the
// platform's budget counts. Both runs import the same rows into fresh tenants at the same --tps, so the limiter,
// not our CPU, decides the wall time: writes per request is the figure.
func (s *suite) logins() error {
	n, tps := s.size.logins, s.size.tps
	s.logf("logins: %d customers at --tps %.0f, bulk import beside one create per customer", n, tps)
	withLogins, err := s.gen("logins.csv", bench.Dataset{Rows: n, Logins: true})
	if err != nil {
		return err
	}
	plain, err := s.gen("nologins.csv", bench.Dataset{Rows: n})
	if err != nil {
		return err
	}
	type run struct {
		rep  bench.ImportReport
		wall time.Duration
		ws   writeStats
	}
	runs := map[string]run{}
	for _, c := range []struct{ tenant, path string }{{"loginsbulk", withLogins}, {"loginsplain", plain}} {
		t := s.target(c.tenant)
		rep, res, err := s.importOK(t, "--tps", fmt.Sprint(tps), c.path)
		if err != nil {
			return err
		}
		if rep.Created != n {
			return fmt.Errorf("%s: created %d of %d", c.tenant, rep.Created, n)
		}
		ws := s.stats(c.tenant)
		runs[c.tenant] = run{rep: rep, wall: res.Wall, ws: ws}
		s.logf("logins: %s: %d requests (%d writes on the sandbox), %.1f s wall, %d logins", c.tenant, rep.Requests, ws.writes,
			res.Wall.Seconds(), rep.LoginsImported)
	}
	bulk, plainRun := runs["loginsbulk"], runs["loginsplain"]
	if bulk.rep.LoginsImported != n {
		return fmt.Errorf("the bulk run imported %d logins of %d", bulk.rep.LoginsImported, n)
	}
	// What the bulk run's requests were, from the sandbox's log.
	kinds := map[string]int{}
	for _, r := range s.srv.Requests() {
		if r.Tenant != "loginsbulk" {
			continue
		}
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/customers/import"):
			kinds["bulk imports"]++
		default:
			kinds[r.Method]++
		}
	}
	s.logf("logins: the bulk run's requests: %v", kinds)
	name := fmt.Sprintf("migration of %s customers at --tps %.0f", human(n), tps)
	perRequest := func(r run) string {
		return fmt.Sprintf("%s requests, %.1f customers per request", human(int(r.rep.Requests)), float64(n)/float64(r.rep.Requests))
	}
	s.add(line{name, "with passwords, bulk import (200 per request): requests", perRequest(bulk), "", ""})
	s.add(line{name, "of these", fmt.Sprintf("%d bulk imports, %d GET (the tenant's active/onHold for new customers), %d PATCH (rows whose flags differ from them)",
		kinds["bulk imports"], kinds[http.MethodGet], kinds[http.MethodPatch]), "", ""})
	s.add(line{name, "without passwords, one create per customer: requests", perRequest(plainRun), "", ""})
	s.add(line{name, "requests saved by the bulk import", fmt.Sprintf("%.1f× fewer", float64(plainRun.rep.Requests)/float64(bulk.rep.Requests)), "", ""})
	s.add(line{name, "wall time, bulk / one by one", fmt.Sprintf("%.1f s / %.1f s (%.1f× faster)", bulk.wall.Seconds(), plainRun.wall.Seconds(),
		plainRun.wall.Seconds()/bulk.wall.Seconds()), "", ""})
	return nil
}
