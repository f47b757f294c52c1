package ticket

import (
	"context"
	"fmt"
)

// Line is a business line of the IVR menu and its owning department
// (DESIGN §2, 第六条).
type Line struct {
	Key        string `yaml:"key" json:"key"`               // keypad digit in the IVR menu, "0" for an agent
	ID         string `yaml:"id" json:"id"`                 // stable short code stored on tickets and used as a metric label
	Name       string `yaml:"name" json:"name"`             // 客运, 货运物流, ...
	Department string `yaml:"department" json:"department"` // owning department, e.g. 客运营销部
}

// Unit is a responsible unit (a department or a secondary unit 二级单位)
// that tickets are transferred to.
type Unit struct {
	ID         string `yaml:"id" json:"id" db:"id"`
	Name       string `yaml:"name" json:"name" db:"name"`
	Department string `yaml:"department" json:"department" db:"department"`
	Line       string `yaml:"line" json:"line" db:"line"` // a Line.ID, "" for units serving every line
	// Phone is where a transfer dials the unit: a phone number, a SIP URI
	// (embedded engine) or an Asterisk endpoint such as PJSIP/keyun.
	Phone  string `yaml:"phone" json:"phone" db:"endpoint"`
	Active bool   `yaml:"-" json:"active" db:"active"`
}

// SyncUnits makes the units table match the configured directory: units
// are inserted or updated, and units no longer configured are marked
// inactive (never deleted: old tickets refer to them).
func (s *Store) SyncUnits(ctx context.Context, units []Unit) error {
	return s.write(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `UPDATE units SET active = 0`); err != nil {
			return err
		}
		for _, u := range units {
			_, err := tx.ExecContext(ctx, `INSERT INTO units (id, name, department, line, endpoint, active)
				VALUES (?, ?, ?, ?, ?, 1)
				ON CONFLICT (id) DO UPDATE SET name = excluded.name, department = excluded.department,
				line = excluded.line, endpoint = excluded.endpoint, active = 1`,
				u.ID, u.Name, u.Department, u.Line, u.Phone)
			if err != nil {
				return fmt.Errorf("unit %s: %w", u.ID, err)
			}
		}
		return nil
	})
}

// Units lists the units, active ones first.
func (s *Store) Units(ctx context.Context) ([]Unit, error) {
	var us []Unit
	err := s.r.SelectContext(ctx, &us, `SELECT id, name, department, line, endpoint, active FROM units ORDER BY active DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	return us, nil
}
