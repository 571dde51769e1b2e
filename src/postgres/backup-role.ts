// `pgwarden sql backup-role`: the statements that create a least-privilege role for backups, to be reviewed
// and run by a superuser. pg_dump needs to read every table and sequence, unfiltered by row-level security.

export interface BackupRoleOptions {
  role: string;
  databases: readonly string[];
  /** Adds REPLICATION, needed for base backups and WAL streaming (replicationUrl). */
  replication: boolean;
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

export function backupRoleSql(options: BackupRoleOptions): string {
  const role = ident(options.role);
  const lines = [
    `-- A least-privilege role for pgwarden backups. Review, then run as a superuser (psql -f).`,
    `-- Set a password afterwards with \\password ${options.role}, or use a client certificate.`,
    `CREATE ROLE ${role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;`,
    ``,
    `-- Read every table, view and sequence, and use every schema (PostgreSQL 14 and newer).`,
    `GRANT pg_read_all_data TO ${role};`,
    ``,
    `-- pg_dump turns row-level security off and fails on a table whose policies would hide rows.`,
    `ALTER ROLE ${role} BYPASSRLS;`,
    ``,
    `-- pgwarden serve reads pg_stat_replication (lag per standby) and database sizes.`,
    `GRANT pg_monitor TO ${role};`,
    ``,
  ];
  for (const db of options.databases) lines.push(`GRANT CONNECT ON DATABASE ${ident(db)} TO ${role};`);
  if (options.databases.length > 0) lines.push('');
  lines.push(
    `-- Large objects are not covered by pg_read_all_data: run this in each database (again after new ones appear).`,
    `DO $$ DECLARE lo oid; BEGIN`,
    `  FOR lo IN SELECT oid FROM pg_largeobject_metadata LOOP`,
    `    EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO %I', lo, ${quoteLiteral(options.role)});`,
    `  END LOOP;`,
    `END $$;`,
  );
  if (options.replication) {
    lines.push(
      '',
      `-- Base backups and WAL streaming (pg_basebackup, pg_receivewal); also allow it in pg_hba.conf.`,
      `ALTER ROLE ${role} REPLICATION;`,
      '',
      `-- Base backups read from the data directory on the database host (backup.baseMethod files or auto):`,
      `-- run in the database pgwarden connects to. PostgreSQL 13 and 14 name the functions`,
      `-- pg_start_backup(text, boolean, boolean) and pg_stop_backup(boolean, boolean).`,
      `GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean), pg_backup_stop(boolean) TO ${role};`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
