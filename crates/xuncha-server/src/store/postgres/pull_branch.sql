(SELECT f.server_seq FROM findings f WHERE {condition} AND f.server_seq > $1 ORDER BY f.server_seq LIMIT $2)
