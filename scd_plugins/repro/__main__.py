from scd_plugins.repro.cli import main

raise SystemExit(main())
