import { PgliteDatabase } from '../../src/stores/embedded/sql-pglite.ts';
import { freshSql } from '../support/sql.ts';
import { sqlContract } from './suites/sql.ts';

sqlContract('embedded (PGlite)', freshSql, {
  openEmpty: () => PgliteDatabase.open(null),
});
