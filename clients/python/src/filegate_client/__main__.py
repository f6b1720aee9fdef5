import sys

from filegate_client.cli import main

sys.exit(main())
