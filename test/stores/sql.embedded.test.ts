import { sqlContract } from '../../src/stores/contract/sql.ts';
import { PgliteDatabase } from '../../src/stores/embedded/sql-pglite.ts';
import { freshSql } from '../fixtures/sql.ts';

sqlContract('embedded (PGlite)', freshSql, {
  openEmpty: () => PgliteDatabase.open(null),
});
