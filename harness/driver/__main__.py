import sys

from harness.driver.cli import main

sys.exit(main())
