/* Stands for a statistics script: sets its cookie and says it ran. */
document.cookie = '_pk_id=demo.' + Date.now() + '; Max-Age=34128000; Path=/; SameSite=Lax';
window.demoAnalyticsRuns = (window.demoAnalyticsRuns || 0) + 1;
var analyticsStatus = document.getElementById('analytics-status');
if (analyticsStatus) analyticsStatus.textContent = analyticsStatus.getAttribute('data-ran');
