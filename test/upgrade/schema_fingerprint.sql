-- The schema of a database's own objects as text, one line each, from the
-- catalogs: what test/suites/15_upgrade.sh compares between an upgraded and
-- a fresh store where no pg_dump of the server's major is at hand
-- (PostgreSQL 17 and 18, test/suites/90_other_majors.sh; on 15 it compares
-- pg_dump --binary-upgrade output).  Names, never OIDs; every object of
-- every schema but the system's, with its definition, privileges, comment
-- and extension membership, and the extension's own row.
WITH nsp AS (
    SELECT oid, nspname FROM pg_catalog.pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema')
      AND nspname !~ '^pg_(toast|temp_|toast_temp_)'
),
member AS (
    SELECT classid, objid FROM pg_catalog.pg_depend
    WHERE refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND deptype = 'e'
),
lines(line) AS (
    SELECT 'schema ' || n.nspname || ' owner ' || pg_catalog.pg_get_userbyid(s.nspowner)
           || ' acl ' || coalesce(s.nspacl::text, '-')
           || ' comment ' || coalesce(pg_catalog.obj_description(s.oid, 'pg_namespace'), '-')
    FROM nsp n JOIN pg_catalog.pg_namespace s ON s.oid = n.oid
  UNION ALL
    -- functions, procedures, aggregates
    SELECT 'function ' || p.oid::pg_catalog.regprocedure::text || ' kind ' || p.prokind::text
           || ' member ' || (EXISTS (SELECT FROM member m WHERE m.objid = p.oid AND m.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass))::text
           || ' acl ' || coalesce(p.proacl::text, '-')
           || ' config ' || coalesce(p.proconfig::text, '-')
           || ' comment ' || coalesce(pg_catalog.obj_description(p.oid, 'pg_proc'), '-')
           || E'\n' || CASE WHEN p.prokind = 'a' THEN '(aggregate)' ELSE pg_catalog.pg_get_functiondef(p.oid) END
    FROM pg_catalog.pg_proc p JOIN nsp n ON n.oid = p.pronamespace
  UNION ALL
    -- tables, views, sequences, indexes, composite types
    SELECT 'relation ' || n.nspname || '.' || c.relname || ' kind ' || c.relkind::text
           || ' persistence ' || c.relpersistence::text
           || ' member ' || (EXISTS (SELECT FROM member m WHERE m.objid = c.oid AND m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass))::text
           || ' owner ' || pg_catalog.pg_get_userbyid(c.relowner)
           || ' acl ' || coalesce(c.relacl::text, '-')
           || ' options ' || coalesce(c.reloptions::text, '-')
           || ' rls ' || c.relrowsecurity::text || c.relforcerowsecurity::text
           || ' replident ' || c.relreplident::text
           || ' comment ' || coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), '-')
           || ' partkey ' || coalesce(pg_catalog.pg_get_partkeydef(c.oid), '-')
           || ' bound ' || coalesce(pg_catalog.pg_get_expr(c.relpartbound, c.oid), '-')
           || ' index ' || coalesce(pg_catalog.pg_get_indexdef(c.oid), '-')
           || ' view ' || CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) ELSE '-' END
    FROM pg_catalog.pg_class c JOIN nsp n ON n.oid = c.relnamespace
  UNION ALL
    SELECT 'column ' || n.nspname || '.' || c.relname || '.' || a.attname
           || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
           || ' notnull ' || a.attnotnull::text || ' identity ' || a.attidentity::text
           || ' generated ' || a.attgenerated::text || ' collation ' || a.attcollation::pg_catalog.regcollation::text
           || ' default ' || coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid), '-')
           || ' acl ' || coalesce(a.attacl::text, '-')
           || ' comment ' || coalesce(pg_catalog.col_description(c.oid, a.attnum), '-')
    FROM pg_catalog.pg_attribute a
    JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
    JOIN nsp n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
    SELECT 'constraint ' || n.nspname || '.' || coalesce(c.relname, t.typname) || '.' || k.conname
           || ' ' || pg_catalog.pg_get_constraintdef(k.oid)
           || ' comment ' || coalesce(pg_catalog.obj_description(k.oid, 'pg_constraint'), '-')
    FROM pg_catalog.pg_constraint k JOIN nsp n ON n.oid = k.connamespace
    LEFT JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
    LEFT JOIN pg_catalog.pg_type t ON t.oid = k.contypid
  UNION ALL
    SELECT 'trigger ' || pg_catalog.pg_get_triggerdef(g.oid) || ' enabled ' || g.tgenabled::text
           || ' comment ' || coalesce(pg_catalog.obj_description(g.oid, 'pg_trigger'), '-')
    FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid
    JOIN nsp n ON n.oid = c.relnamespace
    WHERE NOT g.tgisinternal
  UNION ALL
    SELECT 'policy ' || n.nspname || '.' || p.tablename || '.' || p.policyname || ' ' || p.permissive
           || ' ' || p.cmd || ' ' || p.roles::text || ' using ' || coalesce(p.qual, '-')
           || ' check ' || coalesce(p.with_check, '-')
    FROM pg_catalog.pg_policies p JOIN nsp n ON n.nspname = p.schemaname
  UNION ALL
    SELECT 'rule ' || r.schemaname || '.' || r.tablename || '.' || r.rulename || ' ' || r.definition
    FROM pg_catalog.pg_rules r JOIN nsp n ON n.nspname = r.schemaname
  UNION ALL
    -- types that are not a relation's row type or an array
    SELECT 'type ' || pg_catalog.format_type(t.oid, NULL) || ' kind ' || t.typtype::text
           || ' member ' || (EXISTS (SELECT FROM member m WHERE m.objid = t.oid AND m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass))::text
           || ' acl ' || coalesce(t.typacl::text, '-')
           || ' comment ' || coalesce(pg_catalog.obj_description(t.oid, 'pg_type'), '-')
           || ' labels ' || coalesce((SELECT pg_catalog.string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                                     FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid), '-')
    FROM pg_catalog.pg_type t JOIN nsp n ON n.oid = t.typnamespace
    WHERE (t.typrelid = 0 OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')
      AND NOT (t.typcategory = 'A' AND t.typelem <> 0)
  UNION ALL
    SELECT 'sequence ' || s.schemaname || '.' || s.sequencename || ' ' || s.data_type::text
           || ' ' || s.start_value || ' ' || s.min_value || ' ' || s.max_value
           || ' ' || s.increment_by || ' ' || s.cycle::text || ' ' || s.cache_size
    FROM pg_catalog.pg_sequences s JOIN nsp n ON n.nspname = s.schemaname
  UNION ALL
    SELECT 'event trigger ' || e.evtname || ' on ' || e.evtevent || ' ' || e.evtfoid::pg_catalog.regproc::text
           || ' enabled ' || e.evtenabled::text || ' tags ' || coalesce(e.evttags::text, '-')
           || ' member ' || (EXISTS (SELECT FROM member m WHERE m.objid = e.oid AND m.classid = 'pg_catalog.pg_event_trigger'::pg_catalog.regclass))::text
    FROM pg_catalog.pg_event_trigger e
  UNION ALL
    SELECT 'default acl ' || coalesce(n.nspname, '-') || ' ' || pg_catalog.pg_get_userbyid(d.defaclrole)
           || ' ' || d.defaclobjtype::text || ' ' || d.defaclacl::text
    FROM pg_catalog.pg_default_acl d LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
  UNION ALL
    SELECT 'initial privileges ' || pg_catalog.pg_describe_object(i.classoid, i.objoid, i.objsubid)
           || ' ' || i.privtype::text || ' ' || i.initprivs::text
    FROM pg_catalog.pg_init_privs i
    WHERE (i.classoid, i.objoid) IN (SELECT classid, objid FROM member)
  UNION ALL
    SELECT 'extension ' || x.extname || ' ' || x.extversion || ' schema ' || x.extnamespace::pg_catalog.regnamespace::text
           || ' relocatable ' || x.extrelocatable::text
           || ' config ' || coalesce((SELECT pg_catalog.string_agg(u.r::pg_catalog.regclass::text || ' ' || u.w, ', '
                                                                   ORDER BY u.r::pg_catalog.regclass::text)
                                     FROM ROWS FROM (pg_catalog.unnest(x.extconfig), pg_catalog.unnest(x.extcondition)) u(r, w)), '-')
    FROM pg_catalog.pg_extension x
)
SELECT line FROM lines ORDER BY line COLLATE "C";
