metadata description = 'Durable Task Scheduler (the Durable Functions backend configured in host.json as storageProvider type azureManaged) and its task hub.'

@description('Scheduler name: 3-64 characters, letters, digits and hyphens.')
param name string
@description('Task hub name: 3-64 characters, letters, digits and hyphens. The app reads it from TASKHUB_NAME (host.json hubName %TASKHUB_NAME%).')
param taskHubName string
param location string = resourceGroup().location
param tags object = {}

@description('Consumption: pay per dispatched action, up to 500 actions/s. Dedicated: reserved capacity units (skuCapacity), 2,000 actions/s each.')
@allowed([
  'Consumption'
  'Dedicated'
])
param skuName string = 'Consumption'

@description('Capacity units for the Dedicated SKU (1-3, 2,000 actions/s each); ignored for Consumption.')
@minValue(1)
@maxValue(3)
param skuCapacity int = 1

@description('Networks allowed to reach the scheduler endpoint. An empty list denies all traffic; access is still gated by Microsoft Entra ID RBAC.')
param ipAllowlist array = [
  '0.0.0.0/0'
]

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    ipAllowlist: ipAllowlist
    sku: skuName == 'Dedicated'
      ? {
          name: skuName
          capacity: skuCapacity
        }
      : {
          name: skuName
        }
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
}

output schedulerName string = scheduler.name
output schedulerId string = scheduler.id
output endpoint string = scheduler.properties.endpoint
output taskHubName string = taskHub.name
output taskHubId string = taskHub.id
