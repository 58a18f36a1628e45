package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"custsync/remote"
)

func migrationCommand() *cli.Command {
	return &cli.Command{
		Name:  "migration",
		Usage: "tenant migration: copy a tenant into another, and the password migration retention window for legacy password hashes",
		Subcommands: []*cli.Command{migrationCopyCommand(), {
			Name:  "retention",
			Usage: "show, set or delete the tenant's password migration retention configuration",
			Description: "Customers whose rows carry a legacy password hash (legacyAuth.algorithm, legacyAuth.hash) can be\n" +
				"imported only while the tenant's retention window is open: the platform keeps each legacy hash until\n" +
				"the customer's first login, rehashes it then, and at the end date clears those never used (those\n" +
				"customers must reset their passwords). Import refuses such rows, with nothing sent, when the window\n" +
				"is not open. Native hashes (passwordHash) need no window.\n\n" +
				"Examples:\n" +
				"  custsync migration retention show --tenant acme\n" +
				"  custsync migration retention set --tenant acme --end 2027-01-31 --reminder 2027-01-24\n" +
				"  custsync migration retention delete --tenant acme",
			Subcommands: []*cli.Command{
				{
					Name:   "show",
					Usage:  "print the configuration and whether legacy hashes may be imported today",
					Flags:  append([]cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the configuration as JSON"}}, platformFlags()...),
					Action: runRetentionShow,
				},
				{
					Name:  "set",
					Usage: "create or replace the configuration",
					Flags: append([]cli.Flag{
						&cli.StringFlag{Name: "end", Usage: "the `DATE` (YYYY-MM-DD, in the future) the window ends: legacy hashes not used by then are cleared"},
						&cli.StringFlag{Name: "reminder", Usage: "the `DATE` the platform e-mails customers not yet migrated to log in once (default: 7 days before --end, or tomorrow)"},
						&cli.BoolFlag{Name: "email-notifications", Value: true, Usage: "let the platform e-mail customers about the migration (reminder, password reset); --email-notifications=false sends none"},
					}, platformFlags()...),
					Action: runRetentionSet,
				},
				{
					Name:   "delete",
					Usage:  "remove the configuration (the platform refuses while an account still holds a legacy hash)",
					Flags:  platformFlags(),
					Action: runRetentionDelete,
				},
			},
		}},
	}
}

func runRetentionShow(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf("migration retention show takes no arguments (got %q)", c.Args().First())
	}
	sess, err := connect(c, false)
	if err != nil {
		return err
	}
	defer sess.Close()
	ret, ok, err := sess.Client.GetRetention(sess.Ctx)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printRetentionJSON(c.App.Writer, ret, ok)
	}
	printRetention(c.App.Writer, ret, ok)
	return nil
}

func runRetentionSet(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf("migration retention set takes no arguments (got %q)", c.Args().First())
	}
	var s remote.RetentionSettings
	var err error
	if c.String("end") == "" {
		return usageErrorf("--end is required: the date the retention window ends (YYYY-MM-DD)")
	}
	if s.EndDate, err = parseDateFlag(c, "end"); err != nil {
		return err
	}
	if c.String("reminder") != "" {
		if s.ReminderDate, err = parseDateFlag(c, "reminder"); err != nil {
			return err
		}
	}
	if c.IsSet("email-notifications") {
		notify := c.Bool("email-notifications")
		s.EmailNotifications = &notify
	}
	sess, err := connect(c, false)
	if err != nil {
		return err
	}
	defer sess.Close()
	ret, err := sess.Client.SetRetention(sess.Ctx, s)
	if err != nil {
		return err
	}
	printRetention(c.App.Writer, ret, true)
	return nil
}

func runRetentionDelete(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf("migration retention delete takes no arguments (got %q)", c.Args().First())
	}
	sess, err := connect(c, false)
	if err != nil {
		return err
	}
	defer sess.Close()
	if err := sess.Client.DeleteRetention(sess.Ctx); err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, "password migration retention configuration removed")
	return nil
}

func parseDateFlag(c *cli.Context, name string) (time.Time, error) {
	d, err := time.Parse(remote.DateLayout, c.String(name))
	if err != nil {
		return time.Time{}, usageErrorf("--%s %q is not a date such as 2027-01-31", name, c.String(name))
	}
	return d, nil
}

func printRetention(w io.Writer, ret remote.Retention, ok bool) {
	if !ok {
		fmt.Fprintln(w, "no password migration retention configuration: customers with a legacy password hash (legacyAuth) cannot be imported")
		fmt.Fprintln(w, "  set one with: custsync migration retention set --end YYYY-MM-DD")
		return
	}
	if ret.Active(time.Now()) {
		fmt.Fprintf(w, "password migration retention: open until %s; legacy password hashes can be imported until %s\n",
			ret.EndDate.Format(remote.DateLayout), ret.EndDate.AddDate(0, 0, -1).Format(remote.DateLayout))
	} else {
		fmt.Fprintf(w, "password migration retention: ended on %s; legacy password hashes cannot be imported\n", ret.EndDate.Format(remote.DateLayout))
	}
	notify := "off (the platform e-mails no customer about the migration)"
	if ret.EmailNotifications {
		notify = "on (reminder and password reset e-mails)"
	}
	if !ret.ReminderDate.IsZero() {
		fmt.Fprintf(w, "  reminder e-mail: %s\n", ret.ReminderDate.Format(remote.DateLayout))
	}
	fmt.Fprintf(w, "  e-mail notifications: %s\n", notify)
}

// retentionJSON is the --json form of migration retention show.
type retentionJSON struct {
	Configured bool `json:"configured"`
	// Active says whether legacy password hashes can be imported today.
	Active                    bool    `json:"active"`
	RetentionEndDate          *string `json:"retentionEndDate"`
	EmailReminderDate         *string `json:"emailReminderDate"`
	EmailNotificationsEnabled *bool   `json:"emailNotificationsEnabled"`
}

func printRetentionJSON(w io.Writer, ret remote.Retention, ok bool) error {
	out := retentionJSON{Configured: ok}
	if ok {
		end, notify := ret.EndDate.Format(remote.DateLayout), ret.EmailNotifications
		out.Active, out.RetentionEndDate, out.EmailNotificationsEnabled = ret.Active(time.Now()), &end, &notify
		if !ret.ReminderDate.IsZero() {
			rem := ret.ReminderDate.Format(remote.DateLayout)
			out.EmailReminderDate = &rem
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
