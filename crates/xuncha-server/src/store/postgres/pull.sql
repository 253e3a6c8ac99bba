-- One page of a pull (store/postgres/pull.rs). `{branches}` is pull_branch.sql once per condition of the
-- principal's scope (parameters $3 on), joined by UNION. The sync bench's growth step EXPLAINs these files.
SELECT f.id, f.author_id, f.team_id, f.district_id, f.sub_district_id, f.status, f.fields_json, f.version,
       f.server_seq, f.received_at, f.updated_at,
       (SELECT u.display_name FROM users u WHERE u.id = f.author_id),
       (SELECT t.name FROM teams t WHERE t.id = f.team_id),
       ARRAY(SELECT h.entry_json FROM finding_history h WHERE h.finding_id = f.id ORDER BY h.n)
FROM ({branches}) AS page
JOIN findings f ON f.server_seq = page.server_seq
ORDER BY f.server_seq
LIMIT $2
