"""filegate_local: template.yaml on moto server, with API Gateway (REST), Lambda and its event sources
emulated as far as the template uses them (filegate_local.template.SUPPORTED; README.md). `LocalStack` is in
filegate_local.stack: this package stays empty, as the Lambda worker (filegate_local.runtime) imports it too."""
